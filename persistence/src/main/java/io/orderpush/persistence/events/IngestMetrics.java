package io.orderpush.persistence.events;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.orderpush.persistence.Histograms;
import java.util.function.IntSupplier;

/** The meters of the ingest write path. */
final class IngestMetrics {

  final Counter stored;
  final Counter duplicates;
  final DistributionSummary groupEvents;
  final DistributionSummary groupRequests;
  final Timer commit;
  final Counter commitFailures;
  final Counter expectingGroups;
  final Counter lockingGroups;
  final Counter replanned;
  final Counter headsForgotten;
  final Counter commitRetries;
  final Counter rejectedFull;
  final Counter rejectedClosed;
  final Counter timedOut;

  IngestMetrics(MeterRegistry registry, IntSupplier queuedEvents) {
    stored =
        Counter.builder("gateway.ingest.events")
            .tag("result", "stored")
            .description("Events committed to the log")
            .register(registry);
    duplicates =
        Counter.builder("gateway.ingest.events")
            .tag("result", "duplicate")
            .description("Events answered with their original seq because they were already stored")
            .register(registry);
    groupEvents =
        DistributionSummary.builder("gateway.ingest.group.events")
            .description("Events per group-commit transaction")
            .serviceLevelObjectives(Histograms.SIZE)
            .register(registry);
    groupRequests =
        DistributionSummary.builder("gateway.ingest.group.requests")
            .description("Ingest requests per group-commit transaction")
            .register(registry);
    commit =
        Timer.builder("gateway.ingest.commit")
            .description("Duration of one group-commit transaction, BEGIN to COMMIT")
            .serviceLevelObjectives(Histograms.LATENCY)
            .register(registry);
    expectingGroups =
        Counter.builder("gateway.ingest.groups")
            .tag("path", "expected_heads")
            .description(
                "Group-commit transactions started, by path: expected_heads (seqs from the heads"
                    + " the gateway remembers, sent in one round trip) or locking (heads read"
                    + " under lock first)")
            .register(registry);
    lockingGroups =
        Counter.builder("gateway.ingest.groups")
            .tag("path", "locking")
            .description(
                "Group-commit transactions started, by path: expected_heads (seqs from the heads"
                    + " the gateway remembers, sent in one round trip) or locking (heads read"
                    + " under lock first)")
            .register(registry);
    replanned =
        Counter.builder("gateway.ingest.groups.replanned")
            .description(
                "Expected-heads transactions PostgreSQL refused (a head had moved, or an event id"
                    + " was stored before), run again the locking way")
            .register(registry);
    headsForgotten =
        Counter.builder("gateway.ingest.known.heads.evicted")
            .description(
                "Merchants' heads the writer forgot as the least recently used beyond its bound"
                    + " (262,144): their next group takes the locking way")
            .register(registry);
    commitFailures =
        Counter.builder("gateway.ingest.commit.failures")
            .description("Group-commit transactions that failed after retries")
            .register(registry);
    commitRetries =
        Counter.builder("gateway.ingest.commit.retries")
            .description(
                "Group-commit transactions retried after a deadlock or serialization failure")
            .register(registry);
    rejectedFull =
        Counter.builder("gateway.ingest.rejected")
            .tag("reason", "queue_full")
            .description("Ingest requests refused with 503 because the write queue was full")
            .register(registry);
    rejectedClosed =
        Counter.builder("gateway.ingest.rejected")
            .tag("reason", "shutting_down")
            .description("Ingest requests refused with 503 during shutdown")
            .register(registry);
    timedOut =
        Counter.builder("gateway.ingest.rejected")
            .tag("reason", "timeout")
            .description(
                "Ingest requests answered 503 because PostgreSQL did not confirm their commit in"
                    + " time (pg.client-timeout-ms); their events may have been stored")
            .register(registry);
    Gauge.builder("gateway.ingest.queue.events", queuedEvents::getAsInt)
        .description("Events waiting for a group commit")
        .register(registry);
  }
}
