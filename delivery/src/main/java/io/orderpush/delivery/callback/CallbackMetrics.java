package io.orderpush.delivery.callback;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.orderpush.persistence.Histograms;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Meters of HTTP callback delivery. */
final class CallbackMetrics {

  private final MeterRegistry registry;
  private final Map<String, Counter> attempts = new ConcurrentHashMap<>();
  final Counter retries;
  final Counter expiredBatches;
  final Counter loadFailures;
  final Counter stateWriteFailures;
  final Counter staleStates;
  final AtomicInteger loading = new AtomicInteger();
  final AtomicInteger unreadable = new AtomicInteger();
  final Timer latency;
  final DistributionSummary batchEvents;
  final Map<String, AtomicInteger> endpoints = new ConcurrentHashMap<>();

  CallbackMetrics(MeterRegistry registry) {
    this.registry = registry;
    retries =
        Counter.builder("gateway.callback.retries")
            .description("Batches scheduled for another attempt")
            .register(registry);
    expiredBatches =
        Counter.builder("gateway.callback.batches.expired")
            .description(
                "Unacked batches dropped because retention removed their events before a retry")
            .register(registry);
    stateWriteFailures =
        Counter.builder("gateway.callback.state.write.failures")
            .description(
                "Failed writes of an endpoint's state to PostgreSQL (retried until stored)")
            .register(registry);
    staleStates =
        Counter.builder("gateway.callback.state.stale.reads")
            .description(
                "Stored endpoint states not followed because they were read before this node's own"
                    + " state write landed (read again once it landed)")
            .register(registry);
    loadFailures =
        Counter.builder("gateway.callback.load.failures")
            .description("Failed attempts to load a callback app's secrets or grants (retried)")
            .register(registry);
    Gauge.builder("gateway.callback.endpoints.loading", loading::get)
        .description("Callback apps not fully loaded yet on this node, retried with backoff")
        .register(registry);
    Gauge.builder("gateway.callback.endpoints.unreadable", unreadable::get)
        .description("Callback apps skipped: their secret cannot be opened with the configured key")
        .register(registry);
    latency =
        Timer.builder("gateway.callback.latency")
            .description("POST to answer, per attempt")
            .serviceLevelObjectives(Histograms.LATENCY)
            .register(registry);
    batchEvents =
        DistributionSummary.builder("gateway.callback.batch.events")
            .description("Events per POST")
            .register(registry);
    for (String state : new String[] {"active", "failing", "suspended"}) {
      AtomicInteger n = new AtomicInteger();
      endpoints.put(state, n);
      Gauge.builder("gateway.callback.endpoints", n::get)
          .tag("state", state)
          .description("Callback endpoints by state")
          .register(registry);
    }
  }

  void attempt(String outcome, String statusClass, long nanos) {
    attempts
        .computeIfAbsent(
            outcome + "/" + statusClass,
            k ->
                Counter.builder("gateway.callback.attempts")
                    .tag("outcome", outcome)
                    .tag("status", statusClass)
                    .description("POST attempts by outcome and status class")
                    .register(registry))
        .increment();
    latency.record(nanos, TimeUnit.NANOSECONDS);
  }

  void moved(String from, String to) {
    if (from != null) {
      endpoints.get(from).decrementAndGet();
    }
    if (to != null) {
      endpoints.get(to).incrementAndGet();
    }
  }
}
