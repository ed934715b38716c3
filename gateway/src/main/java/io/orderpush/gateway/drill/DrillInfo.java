package io.orderpush.gateway.drill;

import java.time.Instant;

/**
 * What a drill report says about the drill itself.
 *
 * @param transport {@code websocket} or {@code callback}
 * @param state {@code running}, {@code finished} (the profile ran out and the backlog drained or
 *     the drain limit passed), {@code stopped} (by command, suspension, freeze or the duration cap)
 * @param stopReason why it stopped early, or null
 * @param normalRate the profile's normal rate (events/s); the peak is {@code normalRate *
 *     multiplier} unless capped by {@code maxRate}
 */
public record DrillInfo(
    String drillId,
    String appId,
    String appName,
    String transport,
    String state,
    String stopReason,
    double scale,
    int merchants,
    long populationEvents,
    double normalRate,
    double peakRate,
    double multiplier,
    double maxRate,
    int maxDurationS,
    Instant startedAt,
    Instant endedAt) {

  /** The same drill, ended. */
  public DrillInfo ended(String state, String stopReason, Instant endedAt) {
    return new DrillInfo(
        drillId,
        appId,
        appName,
        transport,
        state,
        stopReason,
        scale,
        merchants,
        populationEvents,
        normalRate,
        peakRate,
        multiplier,
        maxRate,
        maxDurationS,
        startedAt,
        endedAt);
  }
}
