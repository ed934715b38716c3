package io.orderpush.persistence;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.Iterator;
import java.util.function.Function;

/** Helpers for chains of Vert.x futures. */
public final class Futures {

  private Futures() {}

  /**
   * Runs {@code step} for each item, one after the other, failing at the first failure. Steps that
   * complete at once are run in a loop, not as a chain of listeners: a chain {@code f =
   * f.compose(...)} built over hundreds of items, most of them done at once, completes as one
   * nested call per item when its first pending step completes, and overflows the event loop's
   * stack (seen with 500 frozen callback apps after one active one).
   */
  public static <T> Future<Void> sequentially(
      Iterable<T> items, Function<? super T, Future<?>> step) {
    Promise<Void> done = Promise.promise();
    next(items.iterator(), step, done);
    return done.future();
  }

  private static <T> void next(
      Iterator<T> it, Function<? super T, Future<?>> step, Promise<Void> done) {
    while (it.hasNext()) {
      Future<?> f;
      try {
        f = step.apply(it.next());
      } catch (RuntimeException e) {
        done.fail(e);
        return;
      }
      if (!f.isComplete()) {
        f.onComplete(
            ar -> {
              if (ar.failed()) {
                done.fail(ar.cause());
              } else {
                next(it, step, done);
              }
            });
        return;
      }
      if (f.failed()) {
        done.fail(f.cause());
        return;
      }
    }
    done.complete();
  }
}
