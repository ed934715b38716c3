package io.orderpush.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.orderpush.client.impl.Backoff;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ConsumerOptionsTest {

  @Test
  void shouldNameTheKeyAndTheRangeOfABadValue() {
    assertThatThrownBy(() -> ConsumerOptions.builder().parallelism(0).build())
        .hasMessage("parallelism must be 1..1024, not 0");
    assertThatThrownBy(() -> ConsumerOptions.builder().maxMessageChars(1000).build())
        .hasMessageStartingWith("maxMessageChars must be >= 65536");
    assertThatThrownBy(
            () ->
                ConsumerOptions.builder()
                    .initialBackoff(Duration.ofSeconds(5))
                    .maxBackoff(Duration.ofSeconds(1))
                    .build())
        .hasMessageStartingWith("maxBackoff must be >= initialBackoff");
  }

  @Test
  void shouldDrawBackoffsBetweenHalfAndAllOfTheCappedDoubling() {
    Duration first = Duration.ofMillis(100);
    Duration max = Duration.ofSeconds(2);
    for (int attempt = 0; attempt < 40; attempt++) {
      long full = Math.min(2000, 100L << Math.min(attempt, 30));
      long d = Backoff.delay(first, max, attempt).toMillis();
      assertThat(d).isBetween(full / 2, full);
    }
  }
}
