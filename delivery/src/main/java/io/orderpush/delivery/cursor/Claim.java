package io.orderpush.delivery.cursor;

/**
 * A channel's new ownership: the epoch that fences every older owner, and the cursor to resume
 * after.
 */
public record Claim(long epoch, long cursor) {}
