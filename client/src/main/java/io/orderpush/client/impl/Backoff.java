package io.orderpush.client.impl;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/** Exponential backoff with jitter: attempt n waits between half and all of min(max, first*2^n). */
public final class Backoff {

  private Backoff() {}

  public static Duration delay(Duration first, Duration max, int attempt) {
    long cap = max.toMillis();
    long base = first.toMillis() << Math.min(attempt, 30);
    long full = base <= 0 || base > cap ? cap : base;
    long half = full / 2;
    return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(full - half + 1));
  }
}
