package io.orderpush.persistence.apps;

import io.orderpush.persistence.PersistenceException;

/** The app or grant named does not exist. */
public final class NotFoundException extends PersistenceException {

  public NotFoundException(String message) {
    super(message);
  }
}
