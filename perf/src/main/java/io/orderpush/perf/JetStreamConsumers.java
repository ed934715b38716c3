package io.orderpush.perf;

import io.nats.client.Connection;
import io.nats.client.ConsumeOptions;
import io.nats.client.ConsumerContext;
import io.nats.client.JetStreamManagement;
import io.nats.client.Message;
import io.nats.client.MessageConsumer;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.DeliverPolicy;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import org.HdrHistogram.Recorder;

/**
 * The JetStream side of the consumer group: one durable pull consumer per connection, consumer
 * {@code p} filtering {@code orders.<p>.*} (its share of the merchants; nats-server 2.9 has no
 * consumer groups with per-subject affinity, so the merchants are partitioned by subject, as the
 * gateway assigns each merchant to one connection). Explicit acks, one per message, right after
 * applying it; stream order within a consumer, so each subject's messages arrive in publish order.
 *
 * <p>Checks per merchant, as {@link StreamConsumer} does with seqs: each message's n is the last
 * applied + 1; a lower n is a redelivery (counted), a higher one a gap (an error). Latencies per
 * newly applied message: publish (the publisher's publishAsync call, same JVM clock) to receipt,
 * and store (the stream's timestamp of the message, wall clock) to receipt.
 */
final class JetStreamConsumers {

  private static final int MAX_PRINTED_ERRORS = 20;

  private final List<Partition> partitions = new ArrayList<>();
  private final AtomicLongArray lastApplied;

  /** Publish-to-receipt latency, microseconds, of newly applied messages while measuring. */
  final Recorder publishToReceiptMicros = new Recorder(3);

  /** Store (stream timestamp) to receipt latency, microseconds, while measuring. */
  final Recorder storeToReceiptMicros = new Recorder(3);

  volatile boolean measuring;

  private final class Partition {
    final Connection conn;
    MessageConsumer consumer;
    volatile long applied;
    volatile long redelivered;
    volatile long errors;

    Partition(Connection conn) {
      this.conn = conn;
    }

    /**
     * On this connection's dispatcher thread: one thread per partition, one partition a merchant.
     */
    void onMessage(Message msg) {
      long now = System.nanoTime();
      byte[] d = msg.getData();
      String subject = msg.getSubject();
      int m = Integer.parseInt(subject.substring(subject.length() - 4));
      long n = JetStreamPublisher.digits(d, JetStreamPublisher.N_AT, JetStreamPublisher.N_DIGITS);
      long last = lastApplied.get(m);
      if (n <= last) {
        redelivered++;
      } else if (n != last + 1) {
        error("subject %s: message n=%d after %d (a gap)", subject, n, last);
        lastApplied.set(m, n);
      } else {
        lastApplied.set(m, n);
        if (measuring) {
          long sent =
              JetStreamPublisher.digits(
                  d, JetStreamPublisher.SENT_AT, JetStreamPublisher.SENT_DIGITS);
          publishToReceiptMicros.recordValue(
              Math.max(1, (now - JetStreamPublisher.BASE - sent) / 1000));
          ZonedDateTime stored = msg.metaData().timestamp();
          Instant at = Instant.now();
          long micros =
              (at.getEpochSecond() - stored.toEpochSecond()) * 1_000_000
                  + (at.getNano() - stored.getNano()) / 1000;
          storeToReceiptMicros.recordValue(Math.max(1, micros));
        }
      }
      msg.ack();
      applied++; // after the ack, as the gateway's consumer counts applied events
    }

    void error(String format, Object... values) {
      if (++errors <= MAX_PRINTED_ERRORS) {
        System.err.println("CONSUMER ERROR: " + String.format(format, values));
      }
    }
  }

  JetStreamConsumers(int merchants) {
    lastApplied = new AtomicLongArray(merchants);
  }

  /** Creates durable consumer {@code c<p>} on {@code stream} for each connection and starts it. */
  void start(
      JetStreamManagement jsm,
      String stream,
      List<Connection> connections,
      int maxAckPending,
      int fetchBatch)
      throws Exception {
    for (int p = 0; p < connections.size(); p++) {
      jsm.addOrUpdateConsumer(
          stream,
          ConsumerConfiguration.builder()
              .durable("c" + p)
              .filterSubject("orders." + p + ".*")
              .deliverPolicy(DeliverPolicy.All)
              .ackPolicy(AckPolicy.Explicit)
              .maxAckPending(maxAckPending)
              .build());
      Partition part = new Partition(connections.get(p));
      ConsumerContext ctx = part.conn.getStreamContext(stream).getConsumerContext("c" + p);
      part.consumer =
          ctx.consume(ConsumeOptions.builder().batchSize(fetchBatch).build(), part::onMessage);
      partitions.add(part);
    }
  }

  long applied() {
    return partitions.stream().mapToLong(p -> p.applied).sum();
  }

  long redelivered() {
    return partitions.stream().mapToLong(p -> p.redelivered).sum();
  }

  long errors() {
    return partitions.stream().mapToLong(p -> p.errors).sum();
  }

  long lastApplied(int merchant) {
    return lastApplied.get(merchant);
  }

  void stop() throws Exception {
    for (Partition p : partitions) {
      p.consumer.stop();
    }
  }
}
