package io.orderpush.drill;

import java.time.Instant;

/**
 * Parses delivered events' {@code ingestedAt} (ISO-8601) to epoch milliseconds. The events of one
 * commit share it, so the last one parsed is kept: a consumer parses once per commit, not per
 * event. Not thread-safe (one per consumer).
 */
public final class IngestedAt {

  private String last = "";
  private long lastMillis;

  public long millis(String at) {
    if (!at.equals(last)) {
      lastMillis = Instant.parse(at).toEpochMilli();
      last = at;
    }
    return lastMillis;
  }

  /** {@code t} in microseconds since the epoch. */
  public static long micros(Instant t) {
    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1000;
  }
}
