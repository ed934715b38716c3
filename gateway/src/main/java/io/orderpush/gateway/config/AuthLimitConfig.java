package io.orderpush.gateway.config;

import java.time.Duration;

/**
 * Limits on failed authentication per source address.
 *
 * @param maxFailures failures an address may have within one window; past them, 429
 * @param window how long a window lasts from its first failure
 * @param maxTrackedAddresses addresses remembered at most; when full, the least recently failing
 *     one is forgotten
 */
public record AuthLimitConfig(int maxFailures, Duration window, int maxTrackedAddresses) {}
