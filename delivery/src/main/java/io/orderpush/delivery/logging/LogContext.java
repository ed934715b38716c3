package io.orderpush.delivery.logging;

import java.util.HashMap;
import java.util.Map;
import org.slf4j.MDC;

/**
 * Context fields (request id, app, merchant, connection, host, ...) for the log lines written while
 * a scope is open. Event loops are shared by every request and channel, so a scope is opened around
 * the log call itself and closed before the handler returns; it restores what the thread's MDC held
 * before, so nested scopes and code that sets its own MDC are left as they were.
 *
 * <pre>{@code
 * try (var log = LogContext.with("app", appId, "merchant", merchantId)) {
 *   LOG.warn("callback attempt failed");
 * }
 * }</pre>
 */
public final class LogContext implements AutoCloseable {

  private final Map<String, String> previous = new HashMap<>();

  private LogContext() {}

  /** Opens a scope with {@code key, value} pairs; a null value leaves that key out. */
  public static LogContext with(String... keysAndValues) {
    if (keysAndValues.length % 2 != 0) {
      throw new IllegalArgumentException("keys and values come in pairs");
    }
    LogContext scope = new LogContext();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      scope.put(keysAndValues[i], keysAndValues[i + 1]);
    }
    return scope;
  }

  /** Adds one more field to this scope; a null value leaves it out. */
  public LogContext put(String key, Object value) {
    if (value == null) {
      return this;
    }
    if (!previous.containsKey(key)) {
      previous.put(key, MDC.get(key));
    }
    MDC.put(key, String.valueOf(value));
    return this;
  }

  @Override
  public void close() {
    previous.forEach(
        (key, value) -> {
          if (value == null) {
            MDC.remove(key);
          } else {
            MDC.put(key, value);
          }
        });
  }
}
