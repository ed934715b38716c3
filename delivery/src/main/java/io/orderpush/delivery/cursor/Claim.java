package io.orderpush.delivery.cursor;

/**
 * A channel's new ownership: the epoch that fences every older owner, and the cursor to resume
 * after.
 *
 * @param prev the last seq at or below the cursor that the app was delivered (its subscription
 *     included), the {@code prevSeq} of the next event delivered; the cursor itself when the cursor
 *     did not move past filtered-out events, or Redis does not know
 */
public record Claim(long epoch, long cursor, long prev) {}
