package io.orderpush.gateway.http;

import java.util.List;
import java.util.Map;

/**
 * A client error with its HTTP status and the JSON body it becomes: {@code {"error": code,
 * "message": message, "details": [...]}}.
 */
public final class ApiException extends RuntimeException {

  private final int status;
  private final String code;
  private final List<Map<String, Object>> details;

  public ApiException(int status, String code, String message) {
    this(status, code, message, List.of());
  }

  public ApiException(int status, String code, String message, List<Map<String, Object>> details) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
    this.details = List.copyOf(details);
  }

  public static ApiException badRequest(String message) {
    return new ApiException(400, "invalid_request", message);
  }

  public int status() {
    return status;
  }

  public String code() {
    return code;
  }

  public List<Map<String, Object>> details() {
    return details;
  }
}
