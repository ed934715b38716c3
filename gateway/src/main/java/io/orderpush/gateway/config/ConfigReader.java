package io.orderpush.gateway.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;

/**
 * Reads keys from the defaults file, overridden by environment variables, and collects every
 * problem instead of stopping at the first, so one failed start shows all that is wrong.
 */
final class ConfigReader {

  static final String DEFAULTS = "/gateway-defaults.properties";

  private final Map<String, String> defaults;
  private final Map<String, String> env;
  private final List<String> problems = new ArrayList<>();

  ConfigReader(Map<String, String> defaults, Map<String, String> env) {
    this.defaults = defaults;
    this.env = env;
  }

  static Map<String, String> loadDefaults() {
    Properties p = new Properties();
    try (InputStream in = ConfigReader.class.getResourceAsStream(DEFAULTS)) {
      if (in == null) {
        throw new IllegalStateException(DEFAULTS + " is missing from the classpath");
      }
      p.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Map<String, String> m = new HashMap<>();
    p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k).trim()));
    return m;
  }

  /** The environment variable that overrides {@code key}. */
  static String envName(String key) {
    return "GATEWAY_" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  String raw(String key) {
    if (!defaults.containsKey(key)) {
      throw new IllegalStateException("no default for configuration key " + key);
    }
    String fromEnv = env.get(envName(key));
    return fromEnv != null ? fromEnv.trim() : defaults.get(key);
  }

  int integer(String key, int min, int max) {
    String v = raw(key);
    try {
      int n = Integer.parseInt(v);
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    problem(key, "an integer from " + min + " to " + max, v);
    return min;
  }

  long longValue(String key, long min, long max) {
    String v = raw(key);
    try {
      long n = Long.parseLong(v);
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    problem(key, "an integer from " + min + " to " + max, v);
    return min;
  }

  Duration millis(String key, int min, int max) {
    return Duration.ofMillis(integer(key, min, max));
  }

  /** A required secret string; its value never appears in a message. */
  String secret(String key, int minLength) {
    String v = raw(key);
    if (v.length() < minLength) {
      problems.add(
          key
              + " ("
              + envName(key)
              + ") is required"
              + (minLength > 1 ? ": a secret of at least " + minLength + " characters" : ""));
    }
    return v;
  }

  byte[] base64Key(String key, int bytes) {
    String v = raw(key);
    try {
      byte[] k = Base64.getDecoder().decode(v);
      if (k.length == bytes) {
        return k;
      }
    } catch (IllegalArgumentException ignored) {
      // reported below
    }
    problems.add(
        key
            + " ("
            + envName(key)
            + ") is required: "
            + bytes
            + " random bytes, base64-encoded (for example: openssl rand -base64 "
            + bytes
            + ")");
    return new byte[bytes];
  }

  /** Comma-separated base64 keys, possibly none; a bad one is reported by position only. */
  java.util.List<byte[]> base64Keys(String key, int bytes) {
    java.util.List<byte[]> keys = new ArrayList<>();
    String v = raw(key);
    if (v.isEmpty()) {
      return keys;
    }
    String[] parts = v.split(",", -1);
    for (int i = 0; i < parts.length; i++) {
      try {
        byte[] k = Base64.getDecoder().decode(parts[i].trim());
        if (k.length == bytes) {
          keys.add(k);
          continue;
        }
      } catch (IllegalArgumentException ignored) {
        // reported below
      }
      problems.add(
          key
              + " ("
              + envName(key)
              + "): entry "
              + (i + 1)
              + " of "
              + parts.length
              + " is not "
              + bytes
              + " bytes, base64-encoded");
    }
    return keys;
  }

  /** Parses a URL with {@code build}, reporting the parser's message without echoing the value. */
  <T> T url(String key, Function<URI, T> build, String expected) {
    try {
      return build.apply(URI.create(raw(key)));
    } catch (IllegalArgumentException e) {
      problems.add(key + " (" + envName(key) + ") must be " + expected + ": " + e.getMessage());
      return null;
    }
  }

  /**
   * Parses a value with {@code build}, reporting the parser's message without echoing the value.
   */
  <T> T parsed(String key, Function<String, T> build, String expected) {
    return parsed(key, null, build, expected);
  }

  /** {@link #parsed}, with {@code unset} (when not null) instead of the default when not set. */
  <T> T parsed(String key, String unset, Function<String, T> build, String expected) {
    String fromEnv = env.get(envName(key));
    String v = unset != null && (fromEnv == null || fromEnv.isBlank()) ? unset : raw(key);
    try {
      return build.apply(v);
    } catch (IllegalArgumentException e) {
      problems.add(key + " (" + envName(key) + ") must be " + expected + ": " + e.getMessage());
      return null;
    }
  }

  boolean bool(String key) {
    String v = raw(key);
    if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
      return Boolean.parseBoolean(v);
    }
    problem(key, "true or false", v);
    return false;
  }

  String string(String key) {
    return raw(key);
  }

  private void problem(String key, String allowed, String value) {
    problems.add(key + " (" + envName(key) + ") must be " + allowed + ", was '" + value + "'");
  }

  void check(boolean ok, String message) {
    if (!ok) {
      problems.add(message);
    }
  }

  void throwIfInvalid() {
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
  }
}
