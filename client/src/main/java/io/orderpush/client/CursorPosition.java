package io.orderpush.client;

/** The answer to setting a cursor: delivery goes on from {@code cursor + 1}. */
public record CursorPosition(String merchantId, long cursor, long headSeq) {}
