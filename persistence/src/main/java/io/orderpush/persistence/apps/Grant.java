package io.orderpush.persistence.apps;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A merchant's authorization of an app.
 *
 * @param startSeq the channel's first cursor, fixed when the grant was made
 * @param resumeFrom where delivery resumes if Redis has no cursor: the last cursor checkpoint, or
 *     startSeq
 * @param eventTypes the event types the app subscribed to (a trailing {@code *} matches any
 *     suffix); empty: every type
 */
public record Grant(
    UUID appId,
    String merchantId,
    List<String> scopes,
    long startSeq,
    long resumeFrom,
    Instant grantedAt,
    List<String> eventTypes) {}
