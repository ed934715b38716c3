package io.orderpush.perf;

import io.nats.client.JetStream;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Recorder;

/**
 * Open-model publishing to JetStream, shaped like {@link RateIngester}'s ingest: bursts of {@code
 * batch} messages are due at a fixed rate whatever the acks do (the n-th burst of a rate is due at
 * n * batch / rate seconds); a 2 ms timer publishes every burst that is due, each message with
 * {@code publishAsync}. A burst counts as stored message by message as JetStream acks them (its
 * PubAck says the message is in the stream); its latency runs from when it was due to its last
 * PubAck. Past {@code maxInFlight} bursts awaiting acks, due bursts are not sent and counted as
 * missed. A failed publish (exception, timeout) is counted, not retried.
 *
 * <p>Each message is one {@link EventFactory} event (about 520 bytes) of a random merchant inside
 * an envelope with fixed-width fields the consumer reads without parsing JSON: {@code
 * {"sentNanos":<19 digits>,"n":<10 digits>,"event":{...}}}, where n counts the merchant's messages
 * from 1 and sentNanos is when publishAsync was called (this JVM's nanoTime, from {@link #BASE}).
 * The subject is {@code orders.<partition>.<merchant>}: one subject per merchant, and the partition
 * (merchant index modulo the consumer count) lets each consumer filter its share.
 */
final class JetStreamPublisher {

  static final long BASE = System.nanoTime();
  static final int SENT_AT = 13;
  static final int SENT_DIGITS = 19;
  static final int N_AT = 37;
  static final int N_DIGITS = 10;
  private static final byte[] HEAD =
      "{\"sentNanos\":0000000000000000000,\"n\":0000000000,\"event\":"
          .getBytes(StandardCharsets.US_ASCII);
  private static final long TICK_MS = 2;

  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "jetstream-publisher");
            t.setDaemon(true);
            return t;
          });
  private final JetStream js;
  private final EventFactory factory;
  private final String[] subjects;
  private final int batch;
  private final int maxInFlight;

  /** Messages published per merchant (publisher thread only, read after {@link #stop}). */
  private final long[] published;

  /** Due-to-last-PubAck latency of bursts, microseconds, while measuring. */
  final Recorder ackLatencyMicros = new Recorder(3);

  private final AtomicLong stored = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong bursts = new AtomicLong();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong bytes = new AtomicLong();
  volatile boolean measuring;
  volatile long missed;
  private double rate;
  private long rateStartNanos;
  private long sentAtRate;

  JetStreamPublisher(
      JetStream js,
      EventFactory factory,
      String[] subjects,
      int merchants,
      int batch,
      int maxInFlight) {
    this.js = js;
    this.factory = factory;
    this.subjects = subjects;
    this.batch = batch;
    this.maxInFlight = maxInFlight;
    this.published = new long[merchants];
    timer.scheduleAtFixedRate(
        () -> {
          try {
            tick();
          } catch (RuntimeException e) { // would cancel the timer silently
            if (failed.incrementAndGet() <= 20) {
              System.err.println("PUBLISH ERROR: " + e);
            }
          }
        },
        TICK_MS,
        TICK_MS,
        TimeUnit.MILLISECONDS);
  }

  static String subject(int partition, String merchantId) {
    return "orders." + partition + "." + merchantId;
  }

  long stored() {
    return stored.get();
  }

  long failed() {
    return failed.get();
  }

  long bursts() {
    return bursts.get();
  }

  int inFlight() {
    return inFlight.get();
  }

  /** Mean message size in bytes (payload only). */
  double meanBytes() {
    long n = stored.get() + failed.get();
    return n == 0 ? 0 : (double) bytes.get() / n;
  }

  /** Sets the target rate in messages/s (0 stops sending); bursts become due from now on. */
  void setRate(double messagesPerSecond) {
    timer.execute(
        () -> {
          rate = messagesPerSecond;
          rateStartNanos = System.nanoTime();
          sentAtRate = 0;
        });
  }

  /**
   * Stops sending and waits until no burst awaits acks; returns the messages published per
   * merchant.
   */
  long[] stop(long timeoutSeconds) throws Exception {
    setRate(0);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    while (inFlight.get() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    CompletableFuture<long[]> copy = new CompletableFuture<>();
    timer.execute(() -> copy.complete(published.clone()));
    long[] out = copy.get(10, TimeUnit.SECONDS);
    timer.shutdownNow();
    return out;
  }

  private void tick() {
    long now = System.nanoTime();
    while (rate > 0) {
      long due = rateStartNanos + (long) (sentAtRate * (batch * 1e9 / rate));
      if (due > now) {
        break;
      }
      sentAtRate++;
      if (inFlight.get() >= maxInFlight) {
        missed += batch;
      } else {
        send(due);
      }
    }
  }

  private void send(long dueNanos) {
    inFlight.incrementAndGet();
    bursts.incrementAndGet();
    AtomicInteger remaining = new AtomicInteger(batch);
    String occurredAt = Instant.now().toString();
    for (int i = 0; i < batch; i++) {
      Buffer b = Buffer.buffer(640).appendBytes(HEAD);
      int m = factory.appendEvent(b, occurredAt);
      byte[] msg = b.appendByte((byte) '}').getBytes();
      putDigits(msg, N_AT, N_DIGITS, ++published[m]);
      putDigits(msg, SENT_AT, SENT_DIGITS, System.nanoTime() - BASE);
      bytes.addAndGet(msg.length);
      CompletableFuture<?> f;
      try {
        f = js.publishAsync(subjects[m], msg);
      } catch (RuntimeException e) {
        f = CompletableFuture.failedFuture(e);
      }
      f.whenComplete(
          (ack, e) -> {
            if (e == null) {
              stored.incrementAndGet();
            } else if (failed.incrementAndGet() <= 20) {
              System.err.println("PUBLISH ERROR: " + e);
            }
            if (remaining.decrementAndGet() == 0) {
              if (measuring) {
                ackLatencyMicros.recordValue(Math.max(1, (System.nanoTime() - dueNanos) / 1000));
              }
              inFlight.decrementAndGet();
            }
          });
    }
  }

  static void putDigits(byte[] a, int at, int width, long v) {
    for (int i = at + width - 1; i >= at; i--) {
      a[i] = (byte) ('0' + v % 10);
      v /= 10;
    }
  }

  static long digits(byte[] a, int at, int width) {
    long v = 0;
    for (int i = at; i < at + width; i++) {
      v = v * 10 + (a[i] - '0');
    }
    return v;
  }
}
