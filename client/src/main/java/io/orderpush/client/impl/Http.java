package io.orderpush.client.impl;

import com.fasterxml.jackson.databind.JsonNode;
import io.orderpush.client.ApiErrorException;
import io.orderpush.client.OrderPushException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** Authenticated calls to the gateway's app API; errors become {@link ApiErrorException}. */
public final class Http {

  private static final int MAX_ERROR_BODY = 64 * 1024;

  private final HttpClient client;
  private final URI base;
  private final String authorization;
  private final Duration timeout;

  public Http(HttpClient client, URI base, String appToken, Duration timeout) {
    this.client = client;
    this.base = base;
    this.authorization = "Bearer " + appToken;
    this.timeout = timeout;
  }

  public HttpRequest.Builder request(String pathAndQuery) {
    return HttpRequest.newBuilder(base.resolve(pathAndQuery))
        .timeout(timeout)
        .header("Authorization", authorization);
  }

  /** Sends and returns the body as a stream (the caller closes it) once the status is 200. */
  public InputStream stream(HttpRequest request) {
    HttpResponse<InputStream> r = send(request, HttpResponse.BodyHandlers.ofInputStream());
    if (r.statusCode() != 200) {
      try (InputStream in = r.body()) {
        throw error(r.statusCode(), in.readNBytes(MAX_ERROR_BODY));
      } catch (IOException e) {
        throw new ApiErrorException(r.statusCode(), "unknown", "(body unreadable: " + e + ")");
      }
    }
    return r.body();
  }

  /** Sends and parses the JSON answer once the status is 200. */
  public JsonNode json(HttpRequest request) {
    HttpResponse<byte[]> r = send(request, HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() != 200) {
      throw error(r.statusCode(), r.body());
    }
    return Json.tree(r.body());
  }

  private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    try {
      return client.send(request, handler);
    } catch (IOException e) {
      throw new OrderPushException(
          request.method() + " " + request.uri().getRawPath() + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new OrderPushException("interrupted", e);
    }
  }

  private static ApiErrorException error(int status, byte[] body) {
    String text = new String(body, 0, Math.min(body.length, 500), StandardCharsets.UTF_8);
    try {
      JsonNode n = Json.tree(body);
      String code = Json.text(n, "error");
      String message = Json.text(n, "message");
      if (code != null) {
        return new ApiErrorException(status, code, message == null ? "" : message);
      }
    } catch (OrderPushException notJson) {
      // fall through: the body as text
    }
    return new ApiErrorException(status, "unknown", text);
  }
}
