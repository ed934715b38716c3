package io.orderpush.persistence.audit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
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
    droppedFull = dropped(registry, BUFFER_FULL, "the buffer was full (PostgreSQL down or slow)");
    droppedRejected = dropped(registry, REJECTED, "PostgreSQL refused the rows (no partition)");
    droppedShutdown = dropped(registry, SHUTDOWN, "still unwritten when the shutdown flush ended");
    flushFailures =
        Counter.builder("gateway.audit.flush.failures")
            .description("Audit writes that failed; their rows are kept and written again")
            .register(registry);
    flush =
        Timer.builder("gateway.audit.flush")
            .description("Time to write one group of audit records (one INSERT)")
            .publishPercentiles(0.5, 0.99)
            .register(registry);
    Gauge.builder("gateway.audit.buffer.rows", buffered)
        .description("Audit records waiting to be written (bounded by audit.buffer-rows)")
        .register(registry);
  }

  private static Counter dropped(MeterRegistry registry, String reason, String why) {
    return Counter.builder("gateway.audit.rows.dropped")
        .tag("reason", reason)
        .description("Audit records lost: " + why)
        .register(registry);
  }
}
