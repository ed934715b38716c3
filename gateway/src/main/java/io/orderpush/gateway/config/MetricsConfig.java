package io.orderpush.gateway.config;

import java.time.Duration;

/**
 * What {@code /metrics} reports beyond the fixed meters.
 *
 * @param lagApps apps that get their own lag series at most (those with the oldest pending events);
 *     0: only the overall lag figures
 * @param lagInterval how often lag is sampled from the stored heads and cursors
 */
public record MetricsConfig(int lagApps, Duration lagInterval) {}
