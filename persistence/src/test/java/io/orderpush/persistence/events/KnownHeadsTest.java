package io.orderpush.persistence.events;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class KnownHeadsTest {

  @Test
  void shouldKeepAtMostItsCapacityAndDropTheMerchantUsedLeastRecently() {
    java.util.concurrent.atomic.AtomicInteger evicted =
        new java.util.concurrent.atomic.AtomicInteger();
    KnownHeads heads = new KnownHeads(3, evicted::incrementAndGet);
    heads.put("a", 1L);
    heads.put("b", 2L);
    heads.put("c", 3L);
    assertThat(heads.get("a")).isEqualTo(1L); // a is used again: b is now the oldest
    heads.put("d", 4L);
    assertThat(heads).hasSize(3).containsKeys("a", "c", "d").doesNotContainKey("b");
    heads.put("c", 5L);
    heads.put("e", 6L);
    assertThat(heads).hasSize(3).containsKeys("c", "d", "e").doesNotContainKey("a");
    assertThat(heads.get("c")).isEqualTo(5L);
    assertThat(evicted).hasValue(2);
  }
}
