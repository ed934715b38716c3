package io.orderpush.delivery.callback;

import java.time.Duration;

/**
 * HTTP callback delivery.
 *
 * @param batchSize events per POST at most
 * @param maxInFlightPerApp batches of one app in flight at once (channels in parallel)
 * @param connectTimeout TCP (and TLS) connect timeout
 * @param requestTimeout the whole exchange, connect to last byte of the answer
 * @param initialBackoff first retry delay; doubles per consecutive failure of a channel
 * @param maxBackoff the retry delay never exceeds this (and Retry-After is clamped to it)
 * @param failingAfter an endpoint with no success for this long is marked failing
 * @param allowlist hosts and CIDRs callbacks may reach despite the SSRF rules
 */
public record CallbackSettings(
    int batchSize,
    int maxInFlightPerApp,
    Duration connectTimeout,
    Duration requestTimeout,
    Duration initialBackoff,
    Duration maxBackoff,
    Duration failingAfter,
    Allowlist allowlist) {}
