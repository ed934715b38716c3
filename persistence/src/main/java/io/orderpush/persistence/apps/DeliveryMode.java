package io.orderpush.persistence.apps;

import java.util.Locale;

/** How an app receives its merchants' events. */
public enum DeliveryMode {
  WEBSOCKET,
  CALLBACK;

  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Parses {@code websocket} or {@code callback}; anything else is an {@link
   * IllegalArgumentException}.
   */
  public static DeliveryMode fromWire(String s) {
    for (DeliveryMode m : values()) {
      if (m.wireName().equals(s)) {
        return m;
      }
    }
    throw new IllegalArgumentException("delivery mode must be websocket or callback, was " + s);
  }
}
