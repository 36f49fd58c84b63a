package dev.spanheap.bench.echo;

import dev.spanheap.bench.ProcessRss;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
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
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * One allocator's echo run, in a process of its own so that its RSS is its own: a Netty echo
 * server and client over loopback (NIO transport), both allocating from the allocator under test,
 * the client keeping a window of messages in flight; then a burst of live buffers, to see what the
 * allocator gives back. Prints one result line for {@link EchoComparison}.
 */
@Command(name = "echo-run", mixinStandardHelpOptions = true)
public final class EchoRun implements Callable<Integer> {

    static final String RESULT_PREFIX = "echo-result ";

    @Option(names = "--allocator", required = true)
    private String allocatorName;

    @Option(names = "--size", description = "message size in bytes")
    private int size = 1024;

    @Option(names = "--window", description = "messages in flight")
    private int window = 32;

    @Option(names = "--warmup-millis")
    private long warmupMillis = 2000;

    @Option(names = "--measure-millis")
    private long measureMillis = 3000;

    @Option(names = "--burst-mib", description = "live buffers held at once in the burst")
    private int burstMib = 64;

    @Option(names = "--settle-millis", description = "how long after the burst RSS is read again")
    private long settleMillis = 5000;

    public static void main(String[] args) {
        System.exit(new CommandLine(new EchoRun()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        ByteBufAllocator allocator = EchoAllocators.create(allocatorName);
        long rssStart = ProcessRss.bytes();
        double messagesPerSecond = echo(allocator);
        // The burst: buffers of the message size, 64 MiB of them live at once, written, then released.
        List<ByteBuf> live = new ArrayList<>();
        long burstBytes = (long) burstMib << 20;
        for (long held = 0; held < burstBytes; held += size) {
            ByteBuf buf = allocator.directBuffer(size);
            buf.writeZero(size);
            live.add(buf);
        }
        long rssBurst = ProcessRss.bytes();
        long heldBurst = EchoAllocators.heldBytes(allocator);
        live.forEach(ByteBuf::release);
        live.clear();
        Thread.sleep(settleMillis);
        long rssAfter = ProcessRss.bytes();
        long heldAfter = EchoAllocators.heldBytes(allocator);
        System.out.printf("%s%s %d %.1f %d %d %d %d %d%n", RESULT_PREFIX, allocatorName, size, messagesPerSecond,
                rssStart, rssBurst, rssAfter, heldBurst, heldAfter);
        return 0;
    }

    /** Messages echoed per second, measured after a warm-up. */
    private double echo(ByteBufAllocator allocator) throws InterruptedException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        AtomicLong echoed = new AtomicLong();
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .option(ChannelOption.ALLOCATOR, allocator)
                    .childOption(ChannelOption.ALLOCATOR, allocator)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel channel) {
                            channel.pipeline().addLast(new EchoHandler());
                        }
                    })
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            Channel client = new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .option(ChannelOption.ALLOCATOR, allocator)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .handler(new WindowedClient(size, window, echoed))
                    .connect(server.localAddress()).sync().channel();
            Thread.sleep(warmupMillis);
            long start = echoed.get();
            long startNanos = System.nanoTime();
            Thread.sleep(measureMillis);
            long count = echoed.get() - start;
            double seconds = (System.nanoTime() - startNanos) / 1e9;
            client.close().sync();
            server.close().sync();
            return count / seconds;
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** Writes back what it reads, flushing once per read burst. */
    private static final class EchoHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object message) {
            ctx.write(message);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    /**
     * Keeps {@code window} messages of {@code size} bytes in flight: each time another message's
     * worth of bytes has come back, it sends a new one (a freshly allocated buffer, as a server's
     * response would be).
     */
    private static final class WindowedClient extends ChannelInboundHandlerAdapter {
        private final int size;
        private final int window;
        private final AtomicLong echoed;
        private long pendingBytes;

        WindowedClient(int size, int window, AtomicLong echoed) {
            this.size = size;
            this.window = window;
            this.echoed = echoed;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            for (int i = 0; i < window; i++) {
                send(ctx);
            }
            ctx.flush();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object message) {
            ByteBuf buf = (ByteBuf) message;
            pendingBytes += buf.readableBytes();
            buf.release();
            while (pendingBytes >= size) {
                pendingBytes -= size;
                echoed.incrementAndGet();
                send(ctx);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        private void send(ChannelHandlerContext ctx) {
            ByteBuf buf = ctx.alloc().directBuffer(size);
            buf.writerIndex(size);
            buf.setLong(0, echoed.get());
            ctx.write(buf);
        }
    }
}
