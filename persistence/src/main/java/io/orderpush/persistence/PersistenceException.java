package io.orderpush.persistence;

/** Root of the unchecked exceptions thrown by the persistence module. */
public class PersistenceException extends RuntimeException {

  public PersistenceException(String message) {
    super(message);
  }

  public PersistenceException(String message, Throwable cause) {
    super(message, cause);
  }
}
