package io.orderpush.client;

/**
 * One of the app's channels as {@code GET /v1/channels} shows it (docs/replay.md).
 *
 * @param state {@code delivering} or {@code idle}
 */
public record Channel(String merchantId, long headSeq, long cursor, long lag, String state) {}
