package io.orderpush.persistence.events;

/** One event read back from the log: its seq and its JSON exactly as delivery sends it. */
public record LoggedEvent(long seq, String json) {}
