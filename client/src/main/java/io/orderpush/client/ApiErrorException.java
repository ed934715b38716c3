package io.orderpush.client;

/**
 * The gateway answered an HTTP call with an error: {@code status} and the body's {@code error} code
 * ({@code forbidden}, {@code expired}, {@code too_many_replays}, ...), see docs/api.md.
 */
public final class ApiErrorException extends OrderPushException {

  private static final long serialVersionUID = 1L;

  private final int status;
  private final String code;

  public ApiErrorException(int status, String code, String message) {
    super("HTTP " + status + " " + code + ": " + message);
    this.status = status;
    this.code = code;
  }

  /** The HTTP status. */
  public int status() {
    return status;
  }

  /** The gateway's error code, or {@code "unknown"} when the body had none. */
  public String code() {
    return code;
  }
}
