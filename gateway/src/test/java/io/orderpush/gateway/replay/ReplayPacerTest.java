package io.orderpush.gateway.replay;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ReplayPacerTest {

  @Test
  void shouldLetASecondsWorthThroughThenMakeTheRestWaitForTheirShare() {
    ReplayPacer pacer = new ReplayPacer(1000);
    assertThat(pacer.take(1000)).isZero();
    // 500 more at 1,000 a second: about half a second (less what elapsed since the first take).
    assertThat(pacer.take(500)).isBetween(400L, 500L);
    // and the next 1,000 wait behind those: about a second and a half in all
    assertThat(pacer.take(1000)).isBetween(1400L, 1500L);
  }

  @Test
  void shouldNeverWaitWhenUnpaced() {
    ReplayPacer pacer = new ReplayPacer(0);
    for (int i = 0; i < 100; i++) {
      assertThat(pacer.take(1_000_000)).isZero();
    }
  }
}
