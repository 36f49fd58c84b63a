package dev.spanheap.netty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.Spanheap;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A real Netty echo server and client over loopback, both allocating from the adapter: every byte
 * comes back intact, and once the channels close the heap holds nothing in use.
 */
class EchoServerTest {

    @Test
    void everyByteComesBackAndTheHeapEmptiesAfterwards() throws Exception {
        Spanheap heap = Spanheap.builder().build();
        SpanheapByteBufAllocator allocator = new SpanheapByteBufAllocator(heap);
        long baseline = heap.memStats().heapAlloc();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        byte[] sent = new byte[3 << 20];
        new SplittableRandom(42).nextBytes(sent);
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        CountDownLatch allBack = new CountDownLatch(1);
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .option(ChannelOption.ALLOCATOR, allocator)
                    .childOption(ChannelOption.ALLOCATOR, allocator)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel channel) {
                            channel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object message) {
                                    ctx.write(message);
                                }

                                @Override
                                public void channelReadComplete(ChannelHandlerContext ctx) {
                                    ctx.flush();
                                }
                            });
                        }
                    })
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            Channel client = new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .option(ChannelOption.ALLOCATOR, allocator)
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object message) {
                            ByteBuf buf = (ByteBuf) message;
                            try {
                                synchronized (received) {
                                    byte[] bytes = new byte[buf.readableBytes()];
                                    buf.readBytes(bytes);
                                    received.writeBytes(bytes);
                                    if (received.size() >= sent.length) {
                                        allBack.countDown();
                                    }
                                }
                            } finally {
                                buf.release();
                            }
                        }
                    })
                    .connect(server.localAddress()).sync().channel();
            SplittableRandom sizes = new SplittableRandom(7);
            for (int at = 0; at < sent.length; ) {
                int size = Math.min(sent.length - at, 1 + sizes.nextInt(40_000));
                ByteBuf message = client.alloc().directBuffer(size);
                message.writeBytes(sent, at, size);
                client.write(message);
                at += size;
            }
            client.flush();
            assertThat(allBack.await(1, TimeUnit.MINUTES)).as("all %d bytes echoed", sent.length).isTrue();
            client.close().sync();
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
        assertThat(received.toByteArray()).isEqualTo(sent);
        assertThat(allocator.metric().usedDirectMemory()).isZero();
        assertThat(heap.memStats().heapAlloc()).as("nothing left in use").isEqualTo(baseline);
        heap.verify();
        heap.close();
    }
}
