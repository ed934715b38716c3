package io.orderpush.persistence.apps;

import io.orderpush.persistence.PersistenceException;

/**
 * A stored secret cannot be opened with the configured key (sealed under another key, or damaged).
 * Retrying does not help; only the right key does.
 */
public final class SecretUnreadableException extends PersistenceException {

  public SecretUnreadableException(String message, Throwable cause) {
    super(message, cause);
  }
}
