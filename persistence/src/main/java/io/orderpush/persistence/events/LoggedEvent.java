package io.orderpush.persistence.events;

import java.util.ArrayList;
import java.util.List;

/**
 * One event read back from the log: its seq and its JSON exactly as delivery sends it.
 *
 * @param maskedJson the same event with its personal data masked (guarantee 6), or null when it has
 *     none: then {@code json} is what every app receives
 */
public record LoggedEvent(long seq, String json, String maskedJson) {

  public LoggedEvent(long seq, String json) {
    this(seq, json, null);
  }

  /** The event as an app receives it: whole with the {@code pii} scope, else masked. */
  public String json(boolean pii) {
    return pii || maskedJson == null ? json : maskedJson;
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
        out.add(new LoggedEvent(e.seq, e.maskedJson));
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
}
