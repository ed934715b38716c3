package io.orderpush.delivery.channel;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.orderpush.persistence.Histograms;
import java.util.function.Supplier;

/**
 * The meters of channel delivery, shared by both transports (tagged by transport where it matters).
 */
public final class DeliveryMetrics {

  final Counter eventsSent;
  final DistributionSummary batchEvents;
  final Counter redelivered;
  final Counter acksCommitted;
  final Counter acksAlready;
  final Counter acksRefused;
  final Counter fenced;
  final Counter readFailures;
  final Counter claimFailures;
  final Counter unsureClaimsReleased;
  final Counter claimsWaiting;
  final Counter takeovers;
  final Counter releaseFailures;
  final Counter leaseStops;
  final Counter checkpointFailures;
  final Counter expiredSkipped;
  final Counter eventsFiltered;
  final Counter tailHits;
  final Counter logReads;
  final Counter expiredDeferred;
  final Timer commitToSend;

  final Counter reconcileWoken;
  final Counter reconcileFailures;
  final Counter auditWaits;

  DeliveryMetrics(
      MeterRegistry registry,
      Supplier<Number> channels,
      Supplier<Number> assigned,
      Supplier<Number> lag) {
    this.registry = registry;
    states.put(ChannelStates.STUCK, new java.util.concurrent.atomic.AtomicInteger());
    Gauge.builder("gateway.delivery.channel.states", states.get(ChannelStates.STUCK)::get)
        .tag("state", ChannelStates.STUCK)
        .description(
            "Channels of this node by state (every 5 s); stuck must stay 0, see docs/operations.md")
        .register(registry);
    auditWaits =
        Counter.builder("gateway.delivery.audit.waits")
            .description(
                "Times delivery waited 100 ms because the audit trail's buffer was at its mark:"
                    + " no batch leaves that cannot be recorded")
            .register(registry);
    reconcileWoken =
        Counter.builder("gateway.delivery.reconcile.woken")
            .description(
                "Channels woken by the periodic reconcile of stored heads: wake-ups that were"
                    + " missed otherwise")
            .register(registry);
    reconcileFailures =
        Counter.builder("gateway.delivery.reconcile.failures")
            .description(
                "Reconcile rounds whose read of stored heads failed (their merchants are read first"
                    + " the next round)")
            .register(registry);
    eventsSent =
        Counter.builder("gateway.delivery.events.sent")
            .description("Events sent to subscribers")
            .register(registry);
    batchEvents =
        DistributionSummary.builder("gateway.delivery.batch.events")
            .description("Events per delivered batch")
            .register(registry);
    redelivered =
        Counter.builder("gateway.delivery.redeliveries")
            .description(
                "Events sent again after a channel moved or its owner went away before acking them")
            .register(registry);
    acksCommitted =
        Counter.builder("gateway.delivery.acks")
            .tag("result", "committed")
            .description("Acks that moved a cursor")
            .register(registry);
    acksAlready =
        Counter.builder("gateway.delivery.acks")
            .tag("result", "already_acked")
            .description("Acks at or below the cursor")
            .register(registry);
    acksRefused =
        Counter.builder("gateway.delivery.acks")
            .tag("result", "refused")
            .description(
                "Acks refused: beyond what was delivered, or from a subscriber that does not own the channel")
            .register(registry);
    fenced =
        Counter.builder("gateway.delivery.fenced")
            .description(
                "Cursor commits refused because the epoch had moved on (rewind) or Redis had lost the channel")
            .register(registry);
    readFailures =
        Counter.builder("gateway.delivery.read.failures")
            .description("Event log reads that failed and were retried")
            .register(registry);
    claimFailures =
        Counter.builder("gateway.delivery.claim.failures")
            .description("Channel claims that failed in Redis and were retried")
            .register(registry);
    unsureClaimsReleased =
        Counter.builder("gateway.delivery.unsure.claims.released")
            .description(
                "Claims whose answer was lost, found landed in Redis after the channel was let go,"
                    + " and released")
            .register(registry);
    claimsWaiting =
        Counter.builder("gateway.delivery.claims.waiting")
            .description(
                "Channel claims refused because another live node held the channel (tried again"
                    + " after a backoff, until it lets go)")
            .register(registry);
    takeovers =
        Counter.builder("gateway.delivery.takeovers")
            .description("Channels claimed from a node whose lease had ended (a node lost)")
            .register(registry);
    releaseFailures =
        Counter.builder("gateway.delivery.release.failures")
            .description(
                "Channels this node could not release in Redis after 5 attempts (tried again in the"
                    + " background while it keeps its lease)")
            .register(registry);
    leaseStops =
        Counter.builder("gateway.delivery.lease.stops")
            .description("Channels stopped because this node lost its lease")
            .register(registry);
    checkpointFailures =
        Counter.builder("gateway.delivery.checkpoint.failures")
            .description("Cursor checkpoint writes to PostgreSQL that failed and were retried")
            .register(registry);
    expiredSkipped =
        Counter.builder("gateway.delivery.expired.skipped")
            .description("Events a channel never got because retention removed them first")
            .register(registry);
    eventsFiltered =
        Counter.builder("gateway.delivery.events.filtered")
            .description(
                "Events passed over for a channel whose grant's event types leave them out (the cursor moves past them)")
            .register(registry);
    tailHits =
        Counter.builder("gateway.delivery.tail.hits")
            .description(
                "Channel reads served from the recently committed events in memory, not from PostgreSQL")
            .register(registry);
    logReads =
        Counter.builder("gateway.delivery.log.reads")
            .description(
                "Channel reads of undelivered events from the event log in PostgreSQL, counted as they complete (the others are tail hits; re-sends and replays are not counted)")
            .register(registry);
    expiredDeferred =
        Counter.builder("gateway.delivery.expired.deferred")
            .description(
                "Reads that found events removed by retention while the channel had unacked events: passed over once those are acked")
            .register(registry);
    commitToSend =
        Timer.builder("gateway.delivery.commit.to.send")
            .description(
                "From the event's commit (ingestedAt) to handing its batch to the transport")
            .serviceLevelObjectives(Histograms.LATENCY)
            .register(registry);
    Gauge.builder("gateway.delivery.channels", channels)
        .description("Channels known on this node")
        .register(registry);
    Gauge.builder("gateway.delivery.channels.assigned", assigned)
        .description("Channels with an owner on this node")
        .register(registry);
    Gauge.builder("gateway.delivery.lag.events", lag)
        .description("Sum over owned channels of events known to exist above the cursor")
        .register(registry);
  }

  /** The tail cache's size; read from the scrape thread, so only ever an estimate. */
  void tailCache(MeterRegistry registry, TailCache tail) {
    Gauge.builder("gateway.delivery.tail.cache.bytes", tail::bytes)
        .description("Bytes (estimated) held by the cache of recent events")
        .baseUnit("bytes")
        .register(registry);
    Gauge.builder("gateway.delivery.tail.cache.events", tail::events)
        .description("Events held by the cache of recent events")
        .register(registry);
  }

  private final java.util.Map<String, java.util.concurrent.atomic.AtomicInteger> states =
      new java.util.concurrent.ConcurrentHashMap<>();
  private MeterRegistry registry;

  /** Channels by state, as of the last sample; a state seen once stays listed (at 0). */
  void sampled(ChannelStates now) {
    for (String state : now.counts().keySet()) {
      states.computeIfAbsent(
          state,
          k -> {
            java.util.concurrent.atomic.AtomicInteger n =
                new java.util.concurrent.atomic.AtomicInteger();
            Gauge.builder("gateway.delivery.channel.states", n::get)
                .tag("state", k)
                .description(
                    "Channels of this node by state (every 5 s); stuck must stay 0, see"
                        + " docs/operations.md")
                .register(registry);
            return n;
          });
    }
    states.forEach((k, n) -> n.set(now.get(k)));
  }
}
