package io.orderpush.delivery.channel;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import org.junit.jupiter.api.Test;

class GrantReadsTest {

  final UUID app = UUID.randomUUID();
  final GrantReads reads = new GrantReads();

  @Test
  void shouldRefuseWhatAReadSaysOnceAReadStartedAfterItWasApplied() {
    long resync = reads.start();
    long revoke = reads.start();
    assertThat(reads.apply(app, "m-1", revoke)).isTrue();
    reads.end(revoke);
    assertThat(reads.apply(app, "m-1", resync)).as("the older read, of the same channel").isFalse();
    assertThat(reads.apply(app, "m-2", resync)).as("another channel").isTrue();
    assertThat(reads.apply(UUID.randomUUID(), "m-1", resync)).as("another app").isTrue();
    reads.end(resync);
    assertThat(reads.superseded()).isEqualTo(1);
  }

  @Test
  void shouldCountARefusedReadOnceThoughBothTransportsAskAboutIt() {
    long notice = reads.start();
    long resync = reads.start();
    long revoke = reads.start();
    assertThat(reads.apply(app, "m-1", revoke)).isTrue();
    // a notice's lookup is offered to the WebSocket side and to the callback side
    assertThat(reads.apply(app, "m-1", notice)).isFalse();
    assertThat(reads.apply(app, "m-1", notice)).isFalse();
    assertThat(reads.superseded()).isEqualTo(1);
    assertThat(reads.apply(app, "m-1", resync)).isFalse();
    assertThat(reads.superseded()).as("another refused read").isEqualTo(2);
    reads.end(notice);
    reads.end(resync);
    reads.end(revoke);
  }

  @Test
  void shouldApplyAnOlderReadWhenNothingLaterWasApplied() {
    long older = reads.start();
    long later = reads.start();
    assertThat(reads.apply(app, "m-1", older)).isTrue();
    assertThat(reads.apply(app, "m-1", later)).isTrue();
    reads.end(older);
    reads.end(later);
  }

  @Test
  void shouldForgetWhatWasAppliedOnceNoReadIsOpenSoEveryLaterReadApplies() {
    long first = reads.start();
    assertThat(reads.apply(app, "m-1", first)).isTrue();
    reads.end(first);
    reads.end(first); // twice: nothing more
    long next = reads.start();
    assertThat(reads.apply(app, "m-1", next)).isTrue();
    reads.end(next);
    assertThat(reads.superseded()).isZero();
  }
}
