package io.orderpush.persistence.events;

import io.orderpush.persistence.PersistenceException;

/**
 * PostgreSQL did not confirm a request's commit in time. The events may or may not be stored; a
 * retry with the same event ids is safe (it is answered {@code duplicate: true} for those stored).
 */
public final class IngestTimeoutException extends PersistenceException {

  public IngestTimeoutException(String message) {
    super(message);
  }
}
