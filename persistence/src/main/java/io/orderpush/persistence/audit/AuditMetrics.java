package io.orderpush.persistence.audit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.orderpush.persistence.Histograms;
import java.util.function.Supplier;

/** The audit writer's meters. */
final class AuditMetrics {

  static final String BUFFER_FULL = "buffer_full";
  static final String REJECTED = "rejected";
  static final String SHUTDOWN = "shutdown";

  final Counter written;
  final Counter droppedFull;
  final Counter droppedRejected;
  final Counter droppedShutdown;
  final Counter flushFailures;
  final Timer flush;

  AuditMetrics(MeterRegistry registry, Supplier<Number> buffered) {
    written =
        Counter.builder("gateway.audit.rows.written")
            .description("Audit records written to PostgreSQL")
            .register(registry);
    droppedFull = dropped(registry, BUFFER_FULL);
    droppedRejected = dropped(registry, REJECTED);
    droppedShutdown = dropped(registry, SHUTDOWN);
    flushFailures =
        Counter.builder("gateway.audit.flush.failures")
            .description("Audit writes that failed; their rows are kept and written again")
            .register(registry);
    flush =
        Timer.builder("gateway.audit.flush")
            .description("Time to write one group of audit records (one INSERT)")
            .serviceLevelObjectives(Histograms.LATENCY)
            .register(registry);
    Gauge.builder("gateway.audit.buffer.rows", buffered)
        .description("Audit records waiting to be written (bounded by audit.buffer-rows)")
        .register(registry);
  }

  private static Counter dropped(MeterRegistry registry, String reason) {
    return Counter.builder("gateway.audit.rows.dropped")
        .tag("reason", reason)
        .description(
            "Audit records lost: buffer_full (the buffer was full: PostgreSQL down or slow),"
                + " rejected (PostgreSQL refused them: no partition), shutdown (unwritten when"
                + " the shutdown flush ended)")
        .register(registry);
  }
}
