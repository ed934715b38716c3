package io.orderpush.delivery.callback;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import java.net.URI;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One signed POST of a batch to an endpoint, over pooled keep-alive connections (HTTP/2 when an
 * https endpoint offers it through ALPN). Every exchange is bounded by the connect and total
 * timeouts and connects to the address the SSRF guard approved.
 */
final class CallbackSender {

  static final String USER_AGENT = "orderpush-gateway/1";

  private final Vertx vertx;
  private final CallbackSettings settings;
  private final SsrfGuard guard;
  private final HttpClient http1;
  private final HttpClient tls;

  CallbackSender(Vertx vertx, CallbackSettings settings, SsrfGuard guard) {
    this.vertx = vertx;
    this.settings = settings;
    this.guard = guard;
    int connectMs = (int) settings.connectTimeout().toMillis();
    // Connections per endpoint host: enough for every batch an app may have in flight.
    PoolOptions pool =
        new PoolOptions().setHttp1MaxSize(settings.maxInFlightPerApp() + 4).setHttp2MaxSize(4);
    this.http1 =
        vertx.createHttpClient(
            new HttpClientOptions()
                .setKeepAlive(true)
                .setConnectTimeout(connectMs)
                .setTcpNoDelay(true),
            pool);
    this.tls =
        vertx.createHttpClient(
            new HttpClientOptions()
                .setSsl(true)
                .setUseAlpn(true)
                .setProtocolVersion(HttpVersion.HTTP_2)
                .setKeepAlive(true)
                .setConnectTimeout(connectMs)
                .setTcpNoDelay(true),
            pool);
  }

  Future<Attempt> post(URI url, String id, List<String> secrets, byte[] body) {
    long timestamp = System.currentTimeMillis() / 1000;
    String signature = WebhookSigner.sign(secrets, id, timestamp, body);
    boolean https = "https".equals(url.getScheme());
    int port = url.getPort() != -1 ? url.getPort() : https ? 443 : 80;
    String path =
        (url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath())
            + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery());
    Promise<Attempt> result = Promise.promise();
    AtomicReference<HttpClientRequest> exchange = new AtomicReference<>();
    // The deadline covers the name's resolution too: a resolver that hangs must not hold the
    // channel's one batch in flight for its own timeouts on top of the request's.
    long deadline =
        vertx.setTimer(
            settings.requestTimeout().toMillis(),
            t -> {
              if (result.tryComplete(
                  new Attempt(
                      0,
                      Optional.empty(),
                      "no answer within " + settings.requestTimeout().toMillis() + " ms"))) {
                HttpClientRequest req = exchange.get();
                if (req != null) {
                  req.reset(); // cut the late exchange; its connection is not reused
                }
              }
            });
    guard
        .resolve(url.getHost())
        .onFailure(
            err -> {
              vertx.cancelTimer(deadline);
              result.tryComplete(new Attempt(0, Optional.empty(), err.getMessage()));
            })
        .onSuccess(
            address -> {
              if (result.future().isComplete()) {
                return; // the deadline passed while the name was resolved
              }
              RequestOptions options =
                  new RequestOptions()
                      .setMethod(HttpMethod.POST)
                      .setServer(SocketAddress.inetSocketAddress(port, address.getHostAddress()))
                      .setHost(url.getHost())
                      .setPort(port)
                      .setSsl(https)
                      .setURI(path)
                      .setConnectTimeout(settings.connectTimeout().toMillis())
                      .putHeader("content-type", "application/json")
                      .putHeader("user-agent", USER_AGENT)
                      .putHeader("webhook-id", id)
                      .putHeader("webhook-timestamp", Long.toString(timestamp))
                      .putHeader("webhook-signature", signature);
              (https ? tls : http1)
                  .request(options)
                  .compose(
                      req -> {
                        exchange.set(req);
                        if (result.future().isComplete()) {
                          req.reset(); // the deadline passed while connecting
                        }
                        return req.send(Buffer.buffer(body));
                      })
                  // The answer's body is read; only its first bytes are kept, for the delivery log.
                  .compose(
                      resp -> {
                        Buffer head = Buffer.buffer();
                        return resp.handler(
                                chunk -> {
                                  int room = Attempt.HEAD_BYTES - head.length();
                                  if (room > 0) {
                                    head.appendBuffer(
                                        chunk.length() <= room ? chunk : chunk.getBuffer(0, room));
                                  }
                                })
                            .end()
                            .map(v -> answer(resp.statusCode(), resp.headers(), head));
                      })
                  .onComplete(
                      ar -> {
                        vertx.cancelTimer(deadline);
                        result.tryComplete(
                            ar.succeeded()
                                ? ar.result()
                                : new Attempt(
                                    0, Optional.empty(), String.valueOf(ar.cause().getMessage())));
                      });
            });
    return result.future();
  }

  private Attempt answer(int status, MultiMap headers, Buffer head) {
    // honoured on any answer that is retried (a 500 may ask for time too), within the backoff's
    // bounds
    Optional<Duration> retryAfter =
        status >= 200 && status < 300
            ? Optional.empty()
            : parseRetryAfter(headers.get("retry-after"));
    return new Attempt(
        status,
        retryAfter,
        status >= 200 && status < 300 ? "" : "HTTP " + status,
        head.toString(java.nio.charset.StandardCharsets.UTF_8));
  }

  /** Retry-After as seconds or an HTTP date; empty if absent or unreadable. */
  static Optional<Duration> parseRetryAfter(String value) {
    if (value == null || value.isBlank()) {
      return Optional.empty();
    }
    try {
      return Optional.of(Duration.ofSeconds(Math.max(0, Long.parseLong(value.trim()))));
    } catch (NumberFormatException notSeconds) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(value.trim(), DateTimeFormatter.RFC_1123_DATE_TIME);
        return Optional.of(
            Duration.ofMillis(
                Math.max(0, at.toInstant().toEpochMilli() - System.currentTimeMillis())));
      } catch (DateTimeParseException notADate) {
        return Optional.empty();
      }
    }
  }

  Future<Void> close() {
    return Future.all(http1.close(), tls.close()).mapEmpty();
  }
}
