package io.orderpush.delivery.channel;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.persistence.events.LoggedEvent;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

class TailCacheTest {

  static List<LoggedEvent> events(long from, long to) {
    return LongStream.rangeClosed(from, to)
        .mapToObj(s -> new LoggedEvent(s, "{\"seq\":" + s + "}"))
        .toList();
  }

  static List<Long> seqs(List<LoggedEvent> events) {
    return events == null ? null : events.stream().map(LoggedEvent::seq).toList();
  }

  @Test
  void shouldServeAContiguousRunFromAnySeqItHolds() {
    TailCache cache = new TailCache(100, 1 << 20);
    cache.append("m", events(1, 5));
    cache.append("m", events(6, 9));
    assertThat(seqs(cache.get("m", 4, 3))).containsExactly(4L, 5L, 6L);
    assertThat(seqs(cache.get("m", 9, 10))).containsExactly(9L);
    assertThat(cache.get("m", 10, 10)).isNull();
    assertThat(cache.get("other", 1, 10)).isNull();
  }

  @Test
  void shouldDropARunThatWouldHaveAHoleRatherThanServeIt() {
    TailCache cache = new TailCache(100, 1 << 20);
    cache.append("m", events(1, 5));
    cache.append("m", events(8, 9)); // 6 and 7 arrive later, or never here
    assertThat(cache.get("m", 5, 10)).isNull();
    assertThat(seqs(cache.get("m", 8, 10))).containsExactly(8L, 9L);
  }

  @Test
  void shouldDropWhatIsAckedAndKeepServingTheRest() {
    TailCache cache = new TailCache(100, 1 << 20);
    cache.append("m", events(1, 5));
    cache.append("n", events(1, 2));
    cache.dropThrough("m", 3);
    assertThat(cache.get("m", 3, 10)).as("dropped: the log serves it").isNull();
    assertThat(seqs(cache.get("m", 4, 10))).containsExactly(4L, 5L);
    assertThat(cache.events()).isEqualTo(4);
    assertThat(cache.bytes()).isEqualTo(4 * TailCache.cost(events(1, 1).get(0))); // same sizes

    cache.dropThrough("m", 5); // everything: no run is left
    assertThat(cache.get("m", 5, 10)).isNull();
    assertThat(cache.events()).isEqualTo(2);
    assertThat(cache.bytes()).isEqualTo(2 * TailCache.cost(events(1, 1).get(0)));
    cache.append("m", events(6, 7));
    assertThat(seqs(cache.get("m", 6, 10))).containsExactly(6L, 7L);
    cache.dropThrough("unknown", 5);
    assertThat(seqs(cache.get("n", 1, 10))).containsExactly(1L, 2L);
    assertThat(cache.events()).isEqualTo(4);
  }

  @Test
  void shouldStillRefuseAHoleAfterADrop() {
    TailCache cache = new TailCache(100, 1 << 20);
    cache.append("m", events(1, 5));
    cache.dropThrough("m", 2);
    cache.append("m", events(8, 9)); // 6 and 7 never came here
    assertThat(cache.get("m", 3, 10)).isNull();
    assertThat(cache.get("m", 5, 10)).isNull();
    assertThat(seqs(cache.get("m", 8, 10))).containsExactly(8L, 9L);
    assertThat(cache.events()).isEqualTo(2);
  }

  @Test
  void shouldKeepAtMostItsPerMerchantCount() {
    TailCache cache = new TailCache(10, 1 << 20);
    cache.append("a", events(1, 30));
    assertThat(cache.get("a", 20, 100)).isNull();
    assertThat(seqs(cache.get("a", 21, 100))).hasSize(10);
    assertThat(cache.events()).isEqualTo(10);
  }

  /** A 64 KiB order of Chinese text: 32,768 characters, 64 KiB as a Java string. */
  static LoggedEvent large(long seq) {
    return new LoggedEvent(seq, "{\"seq\":" + seq + ",\"data\":\"" + "浙".repeat(32_768) + "\"}");
  }

  @Test
  void shouldBoundItsBytesWithLargeEventsDroppingTheMerchantsQuietLongest() {
    long max = 1L << 20; // 1 MiB: room for about 15 of these events
    TailCache cache = new TailCache(2048, max);
    for (long seq = 1; seq <= 100; seq++) {
      for (String m : List.of("quiet", "busy-1", "busy-2")) {
        if (!m.equals("quiet") || seq <= 2) {
          cache.append(m, List.of(large(seq)));
        }
      }
      assertThat(cache.bytes()).isLessThanOrEqualTo(max);
    }
    assertThat(cache.get("quiet", 1, 10)).isNull();
    // The busiest merchants keep their newest events, contiguous up to the head.
    assertThat(seqs(cache.get("busy-2", 100, 10))).containsExactly(100L);
    assertThat(cache.bytes()).isGreaterThan(max / 2);
    long counted = 0;
    for (String m : List.of("busy-1", "busy-2")) {
      for (long seq = 1; seq <= 100; seq++) {
        List<LoggedEvent> got = cache.get(m, seq, 1);
        if (got != null) {
          counted += TailCache.cost(got.get(0));
        }
      }
    }
    assertThat(counted).isEqualTo(cache.bytes());
  }

  @Test
  void shouldKeepAMerchantThatIsReadOverOneThatIsNeitherReadNorAppendedTo() {
    TailCache cache = new TailCache(2048, 3 * TailCache.cost(large(1)) + 100); // room for 3
    cache.append("read", List.of(large(1)));
    cache.append("idle", List.of(large(1)));
    cache.append("busy", List.of(large(1)));
    assertThat(cache.get("read", 1, 1)).isNotNull(); // now the most recently used
    cache.append("busy", List.of(large(2))); // one over: the least recently used goes
    assertThat(cache.get("idle", 1, 1)).isNull();
    assertThat(seqs(cache.get("read", 1, 1))).containsExactly(1L);
    assertThat(seqs(cache.get("busy", 1, 2))).containsExactly(1L, 2L);
  }

  @Test
  void shouldCountAtLeastTwoBytesACharacterForCjkText() {
    LoggedEvent e = large(1);
    assertThat(TailCache.cost(e)).isGreaterThanOrEqualTo(2L * e.json().length());
  }
}
