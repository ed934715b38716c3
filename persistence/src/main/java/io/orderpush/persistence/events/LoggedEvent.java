package io.orderpush.persistence.events;

import java.util.ArrayList;
import java.util.List;

/**
 * One event read back from the log: its seq and its JSON as stored ({@code {"seq":N,"ingestedAt":
 * ...,"eventId":...,"orderId":...,"type":...,"occurredAt":...,"data":{...}}}, see {@link
 * EventJson}). What an app receives is that line with {@code "prevSeq"} after the seq, written by
 * {@link #appendTo} (through {@link EventJson#appendDelivered}, the one place the delivered event's
 * JSON is produced), for every transport and replay.
 *
 * @param maskedJson the same event with its personal data masked (guarantee 6), or null when it has
 *     none: then {@code json} is what every app receives
 * @param prevSeq the seq before this one that the receiving app's subscription includes, or a seq
 *     after it (none of the subscription's events lie strictly between it and {@code seq}); {@code
 *     seq - 1} unless events were filtered out before this one
 */
public record LoggedEvent(long seq, String json, String maskedJson, long prevSeq) {

  public LoggedEvent(long seq, String json, String maskedJson) {
    this(seq, json, maskedJson, seq - 1);
  }

  public LoggedEvent(long seq, String json) {
    this(seq, json, null, seq - 1);
  }

  /** The event as an app receives it: whole with the {@code pii} scope, else masked. */
  public String json(boolean pii) {
    return pii || maskedJson == null ? json : maskedJson;
  }

  /** The same event with another {@code prevSeq} (its JSON is shared, not copied). */
  public LoggedEvent withPrevSeq(long prev) {
    return prev == prevSeq ? this : new LoggedEvent(seq, json, maskedJson, prev);
  }

  /** The event's type, read from its line ({@link EventJson#type}); null for a line without one. */
  public String type() {
    return EventJson.type(json);
  }

  /** When the event was committed (epoch ms), read from its line; -1 for a line without it. */
  public long ingestedAtMillis() {
    return EventJson.ingestedAtMillis(json);
  }

  /**
   * Appends the event as delivered: {@code json} with {@code "prevSeq":P} right after the seq, in
   * the one copy the caller makes anyway (no string per event).
   */
  public StringBuilder appendTo(StringBuilder sb) {
    return EventJson.appendDelivered(sb, json, seq, prevSeq);
  }

  /**
   * {@link #appendTo}, as UTF-8 into {@code out}.
   *
   * @param jsonBytes the UTF-8 length of the line sent ({@link EventJson#utf8Length})
   */
  public void writeTo(io.netty.buffer.ByteBuf out, int jsonBytes) {
    EventJson.writeDelivered(out, json, jsonBytes, seq, prevSeq);
  }

  /** Bytes {@link #writeTo} writes. */
  public int deliveredUtf8Length(int jsonBytes) {
    return EventJson.deliveredUtf8Length(json, jsonBytes, seq, prevSeq);
  }

  /**
   * The events as an app without the {@code pii} scope receives them; the list itself when none of
   * them has personal data.
   */
  public static List<LoggedEvent> masked(List<LoggedEvent> events) {
    List<LoggedEvent> out = null;
    for (int i = 0; i < events.size(); i++) {
      LoggedEvent e = events.get(i);
      if (e.maskedJson != null) {
        if (out == null) {
          out = new ArrayList<>(events.subList(0, i));
        }
        out.add(new LoggedEvent(e.seq, e.maskedJson, null, e.prevSeq));
      } else if (out != null) {
        out.add(e);
      }
    }
    return out == null ? events : out;
  }

  /** {@link #masked} unless {@code pii}. */
  public static List<LoggedEvent> forScope(List<LoggedEvent> events, boolean pii) {
    return pii ? events : masked(events);
  }

  /**
   * The events {@code types} includes, in order, each with its {@code prevSeq} in that
   * subscription: the first one's is {@code prev} (the last included seq before {@code events}, or
   * a seq with none of them after it), each later one's the seq of the included event before it.
   * The list itself when nothing is left out and {@code prev} is the seq before the first event.
   */
  public static List<LoggedEvent> included(List<LoggedEvent> events, EventTypes types, long prev) {
    if (types.all() && (events.isEmpty() || events.get(0).seq - 1 == prev)) {
      return events;
    }
    List<LoggedEvent> out = new ArrayList<>(events.size());
    for (LoggedEvent e : events) {
      if (types.includes(e)) {
        out.add(e.withPrevSeq(prev));
        prev = e.seq;
      }
    }
    return out;
  }
}
