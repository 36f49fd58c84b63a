package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * {@link CacheBudget}'s arithmetic on one thread: what it grants, what a chunk request asks for,
 * and the share of each holding cache. Its behaviour under concurrent requests is
 * {@link CacheBudgetLincheckTest}'s.
 */
class CacheBudgetTest {

    private static final long KIB = 1 << 10;

    @Test
    void grantsWhatIsLeftOfThePoolAndNothingOnceItIsGone() {
        CacheBudget budget = new CacheBudget(100 * KIB, 100 * KIB);
        assertThat(budget.request(64 * KIB)).isEqualTo(64 * KIB);
        assertThat(budget.request(64 * KIB)).as("only what is left").isEqualTo(36 * KIB);
        assertThat(budget.granted()).isEqualTo(100 * KIB);
        assertThat(budget.request(1)).isZero();
        budget.giveBack(10 * KIB);
        assertThat(budget.request(64 * KIB)).as("what was given back").isEqualTo(10 * KIB);
        assertThat(budget.granted()).isEqualTo(budget.totalBytes());
    }

    @Test
    void aChunkRequestAsksForAChunkButNeverPastTheRoom() {
        CacheBudget budget = new CacheBudget(1 << 20, 1 << 20);
        assertThat(budget.requestChunk(1 << 20, 1)).as("a chunk for one byte").isEqualTo(CacheBudget.CHUNK);
        assertThat(budget.requestChunk(1 << 20, 100 * KIB)).as("more than a chunk when needed").isEqualTo(100 * KIB);
        assertThat(budget.requestChunk(8 * KIB, 1)).as("no more than the room").isEqualTo(8 * KIB);
        assertThat(budget.requestChunk(0, 1)).as("no room").isZero();
        assertThat(budget.requestChunk(-KIB, 1)).as("a cache over its cap").isZero();
        assertThat(budget.granted()).isEqualTo(CacheBudget.CHUNK + 100 * KIB + 8 * KIB);
    }

    @Test
    void eachHoldingCacheGetsAnEqualShareUpToThePerCacheMost() {
        CacheBudget budget = new CacheBudget(32 << 20, 24 << 20);
        assertThat(budget.shareCap()).as("no holder yet").isEqualTo(24 << 20);
        budget.startHolding();
        assertThat(budget.holders()).isEqualTo(1);
        assertThat(budget.shareCap()).isEqualTo(24 << 20);
        budget.startHolding();
        assertThat(budget.shareCap()).isEqualTo(16 << 20);
        budget.startHolding();
        budget.startHolding();
        assertThat(budget.holders()).isEqualTo(4);
        assertThat(budget.shareCap()).isEqualTo(8 << 20);
        budget.stopHolding();
        budget.stopHolding();
        budget.stopHolding();
        assertThat(budget.holders()).isEqualTo(1);
        assertThat(budget.shareCap()).isEqualTo(24 << 20);
    }

    @Test
    void thePerCacheMostIsAtMostThePool() {
        CacheBudget budget = new CacheBudget(8 << 20, 24 << 20);
        assertThat(budget.perCacheBytes()).isEqualTo(8 << 20);
        assertThat(budget.shareCap()).isEqualTo(8 << 20);
    }
}
