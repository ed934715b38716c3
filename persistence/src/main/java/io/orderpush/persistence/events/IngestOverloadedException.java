package io.orderpush.persistence.events;

import io.orderpush.persistence.PersistenceException;

/** Ingest refused a request because its queue is full or it is shutting down; retry later. */
public final class IngestOverloadedException extends PersistenceException {

  public IngestOverloadedException(String message) {
    super(message);
  }
}
