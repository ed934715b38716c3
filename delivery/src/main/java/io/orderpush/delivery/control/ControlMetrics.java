package io.orderpush.delivery.control;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/** Meters of the change notices and the reconcile behind them. */
final class ControlMetrics {

  final Counter published;
  final Counter publishFailures;
  final Counter received;
  final Counter malformed;
  final Counter resyncs;
  final Counter reconcileFailures;
  final Counter applyFailures;
  private final MeterRegistry registry;

  ControlMetrics(MeterRegistry registry) {
    this.registry = registry;
    published =
        Counter.builder("gateway.control.notices.published")
            .description("Change notices this node published to the other nodes")
            .register(registry);
    publishFailures =
        Counter.builder("gateway.control.notices.publish.failures")
            .description("Change notices Redis did not take (the reconcile carries the change)")
            .register(registry);
    received =
        Counter.builder("gateway.control.notices.received")
            .description("Change notices received from other nodes")
            .register(registry);
    malformed =
        Counter.builder("gateway.control.notices.malformed")
            .description("Messages on the control channel that are not change notices (ignored)")
            .register(registry);
    resyncs =
        Counter.builder("gateway.control.reconcile.resyncs")
            .description(
                "Resyncs the periodic reconcile started, of apps changed (or deleted) since its"
                    + " last look")
            .register(registry);
    reconcileFailures =
        Counter.builder("gateway.control.reconcile.failures")
            .description("Reconcile rounds that could not read the control versions")
            .register(registry);
    applyFailures =
        Counter.builder("gateway.control.apply.failures")
            .description("Changes a listener failed to apply (the reconcile reports them again)")
            .register(registry);
  }

  /** How many apps wait for a resync slot, read from {@code size}. */
  void resyncsWaiting(java.util.function.IntSupplier size) {
    io.micrometer.core.instrument.Gauge.builder(
            "gateway.control.reconcile.resyncs.waiting", size, s -> s.getAsInt())
        .description("Apps the reconcile found changed that wait for one of its resync slots")
        .strongReference(true)
        .register(registry);
  }
}
