package io.orderpush.persistence;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class FuturesTest {

  static final int ITEMS = 100_000;

  /**
   * The shape that overflowed an event loop: one pending step, then thousands done at once (frozen
   * callback apps, which need no loading). As a compose chain this throws StackOverflowError when
   * the pending step completes; here it must run every step, in order.
   */
  @Test
  void shouldRunThousandsOfImmediateStepsAfterAPendingOneWithoutDeepRecursion() {
    Promise<Void> first = Promise.promise();
    List<Integer> ran = new ArrayList<>();
    Future<Void> all =
        Futures.sequentially(
            IntStream.range(0, ITEMS).boxed().toList(),
            i -> {
              ran.add(i);
              return i == 0 ? first.future() : Future.succeededFuture();
            });

    assertThat(ran).containsExactly(0);
    first.complete();

    assertThat(all.succeeded()).isTrue();
    assertThat(ran).hasSize(ITEMS);
    assertThat(ran.get(ITEMS - 1)).isEqualTo(ITEMS - 1);
  }

  @Test
  void shouldStopAtTheFirstFailure() {
    List<Integer> ran = new ArrayList<>();
    Future<Void> all =
        Futures.sequentially(
            List.of(1, 2, 3),
            i -> {
              ran.add(i);
              return i == 2 ? Future.failedFuture("no") : Future.succeededFuture();
            });

    assertThat(all.failed()).isTrue();
    assertThat(all.cause()).hasMessage("no");
    assertThat(ran).containsExactly(1, 2);
  }

  @Test
  void shouldFailWhenAStepThrows() {
    Future<Void> all =
        Futures.sequentially(
            List.of(1),
            i -> {
              throw new IllegalStateException("thrown");
            });

    assertThat(all.cause()).hasMessage("thrown");
  }

  @Test
  void shouldCompleteForNoItems() {
    assertThat(Futures.sequentially(List.<Integer>of(), i -> Future.succeededFuture()).succeeded())
        .isTrue();
  }
}
