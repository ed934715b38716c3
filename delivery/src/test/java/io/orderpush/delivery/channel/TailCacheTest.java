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
    TailCache cache = new TailCache(100, 1000);
    cache.append("m", events(1, 5));
    cache.append("m", events(6, 9));
    assertThat(seqs(cache.get("m", 4, 3))).containsExactly(4L, 5L, 6L);
    assertThat(seqs(cache.get("m", 9, 10))).containsExactly(9L);
    assertThat(cache.get("m", 10, 10)).isNull();
    assertThat(cache.get("other", 1, 10)).isNull();
  }

  @Test
  void shouldDropARunThatWouldHaveAHoleRatherThanServeIt() {
    TailCache cache = new TailCache(100, 1000);
    cache.append("m", events(1, 5));
    cache.append("m", events(8, 9)); // 6 and 7 arrive later, or never here
    assertThat(cache.get("m", 5, 10)).isNull();
    assertThat(seqs(cache.get("m", 8, 10))).containsExactly(8L, 9L);
  }

  @Test
  void shouldStayWithinItsBounds() {
    TailCache cache = new TailCache(10, 25);
    cache.append("a", events(1, 30));
    assertThat(cache.get("a", 20, 100)).isNull();
    assertThat(seqs(cache.get("a", 21, 100))).hasSize(10);
    cache.append("b", events(1, 10));
    cache.append(
        "c", events(1, 10)); // 30 > 25 in total: everything goes, reads fall back to the log
    assertThat(cache.get("a", 25, 1)).isNull();
    assertThat(cache.get("c", 1, 1)).isNull();
  }
}
