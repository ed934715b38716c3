package io.orderpush.persistence.audit;

import java.util.Locale;

/** The ways a batch leaves the gateway. */
public enum Transport {
  WEBSOCKET,
  CALLBACK,
  REPLAY;

  /** The name stored and shown: {@code websocket}, {@code callback}, {@code replay}. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  static Transport ofWireName(String name) {
    return valueOf(name.toUpperCase(Locale.ROOT));
  }

  /** The transport of a wire name, or null if there is none. */
  public static Transport fromWire(String name) {
    for (Transport t : values()) {
      if (t.wireName().equals(name)) {
        return t;
      }
    }
    return null;
  }
}
