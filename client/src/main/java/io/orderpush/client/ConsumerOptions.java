package io.orderpush.client;

import java.time.Duration;

/**
 * How a {@link StreamConsumer} behaves; immutable, checked when built. The defaults suit most apps:
 * {@code ConsumerOptions.defaults()}, or {@code ConsumerOptions.builder().parallelism(32)
 * .build()}.
 *
 * @param parallelism merchants whose batches are applied at the same time (each merchant's batches
 *     stay in order, one at a time)
 * @param maxMessageChars the largest message accepted; the gateway sends up to {@code
 *     stream.max-frame-bytes} (1 MiB) plus one event (64 KiB of data), so keep it well above 2 MiB
 * @param initialBackoff first reconnect delay; doubles per failed attempt up to {@code maxBackoff},
 *     each delay drawn between half and all of it (jitter)
 * @param retryBackoff first delay before a failed batch is tried again, doubling up to {@code
 *     maxBackoff}
 * @param idleTimeout a connection from which nothing (message or ping) arrives this long is dropped
 *     and reopened; the gateway pings every 15 s
 * @param connectTimeout for opening a connection
 * @param shutdownTimeout how long {@link StreamConsumer#close()} waits for running batches
 */
public record ConsumerOptions(
    int parallelism,
    int maxMessageChars,
    Duration initialBackoff,
    Duration maxBackoff,
    Duration retryBackoff,
    Duration idleTimeout,
    Duration connectTimeout,
    Duration shutdownTimeout) {

  public ConsumerOptions {
    check(parallelism >= 1 && parallelism <= 1024, "parallelism", parallelism, "1..1024");
    check(
        maxMessageChars >= 64 * 1024,
        "maxMessageChars",
        maxMessageChars,
        ">= 65536 (the gateway sends up to 1 MiB plus one event)");
    positive(initialBackoff, "initialBackoff");
    positive(maxBackoff, "maxBackoff");
    positive(retryBackoff, "retryBackoff");
    positive(idleTimeout, "idleTimeout");
    positive(connectTimeout, "connectTimeout");
    positive(shutdownTimeout, "shutdownTimeout");
    check(
        maxBackoff.compareTo(initialBackoff) >= 0,
        "maxBackoff",
        maxBackoff,
        ">= initialBackoff " + initialBackoff);
  }

  public static ConsumerOptions defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  private static void positive(Duration d, String name) {
    check(d != null && !d.isNegative() && !d.isZero(), name, d, "> 0");
  }

  private static void check(boolean ok, String name, Object value, String allowed) {
    if (!ok) {
      throw new IllegalArgumentException(name + " must be " + allowed + ", not " + value);
    }
  }

  /** Builds {@link ConsumerOptions}; every setter has a default. */
  public static final class Builder {
    private int parallelism = 8;
    private int maxMessageChars = 16 * 1024 * 1024;
    private Duration initialBackoff = Duration.ofMillis(500);
    private Duration maxBackoff = Duration.ofSeconds(30);
    private Duration retryBackoff = Duration.ofSeconds(1);
    private Duration idleTimeout = Duration.ofSeconds(60);
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration shutdownTimeout = Duration.ofSeconds(30);

    public Builder parallelism(int n) {
      this.parallelism = n;
      return this;
    }

    public Builder maxMessageChars(int n) {
      this.maxMessageChars = n;
      return this;
    }

    public Builder initialBackoff(Duration d) {
      this.initialBackoff = d;
      return this;
    }

    public Builder maxBackoff(Duration d) {
      this.maxBackoff = d;
      return this;
    }

    public Builder retryBackoff(Duration d) {
      this.retryBackoff = d;
      return this;
    }

    public Builder idleTimeout(Duration d) {
      this.idleTimeout = d;
      return this;
    }

    public Builder connectTimeout(Duration d) {
      this.connectTimeout = d;
      return this;
    }

    public Builder shutdownTimeout(Duration d) {
      this.shutdownTimeout = d;
      return this;
    }

    public ConsumerOptions build() {
      return new ConsumerOptions(
          parallelism,
          maxMessageChars,
          initialBackoff,
          maxBackoff,
          retryBackoff,
          idleTimeout,
          connectTimeout,
          shutdownTimeout);
    }
  }
}
