package io.orderpush.drill;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Base64;
import java.util.concurrent.Callable;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The drill's HTTP callback app: a receiver on 127.0.0.1 (one event loop) that applies each POSTed
 * batch through its {@link Verifier} and then answers 204, which acknowledges the batch. Every
 * {@code verifyEvery}-th request's Standard Webhooks signature (HMAC-SHA256 over {@code
 * id.timestamp.body} with the app's secret) is checked; a bad one is an error and is answered 401
 * (the gateway retries it).
 */
final class CallbackReceiver {

  private final Vertx vertx;
  private final Context ctx;
  private final Verifier verifier;
  private final int verifyEvery;
  private final Delivery delivery = new Delivery();
  private HttpServer server;
  private Mac mac;
  private long requests;
  volatile long verified;

  CallbackReceiver(Vertx vertx, Verifier verifier, int verifyEvery) {
    this.vertx = vertx;
    this.ctx = vertx.getOrCreateContext();
    this.verifier = verifier;
    this.verifyEvery = verifyEvery;
  }

  /** Listens on 127.0.0.1 on a free port; completes with the port. */
  Future<Integer> listen() {
    return onLoop(
            () ->
                vertx.createHttpServer(
                    new HttpServerOptions().setTcpNoDelay(true).setIdleTimeout(120)))
        .compose(
            s -> {
              server = s.requestHandler(this::handle);
              return onLoop(() -> server.listen(0, "127.0.0.1"))
                  .compose(f -> f)
                  .map(HttpServer::actualPort);
            });
  }

  /** The app's webhook secret ({@code whsec_...}). */
  Future<Void> secret(String whsec) {
    byte[] key =
        Base64.getDecoder().decode(whsec.startsWith("whsec_") ? whsec.substring(6) : whsec);
    return onLoop(
        () -> {
          mac = Mac.getInstance("HmacSHA256");
          mac.init(new SecretKeySpec(key, "HmacSHA256"));
          return null;
        });
  }

  private void handle(HttpServerRequest req) {
    req.body()
        .onComplete(
            ar -> {
              if (ar.failed()) {
                verifier.error("reading a callback failed: " + ar.cause());
                return;
              }
              long arrival = Verifier.micros(Instant.now());
              req.response().setStatusCode(apply(req, ar.result(), arrival)).end();
            });
  }

  /** Applies one POST; returns the status to answer. */
  private int apply(HttpServerRequest req, Buffer body, long arrival) {
    verifier.messages++;
    if (!"/hook".equals(req.path()) || req.method() != HttpMethod.POST) {
      verifier.error("unexpected request " + req.method() + " " + req.path());
      return 404;
    }
    byte[] bytes = body.getBytes();
    if (verifyEvery > 0 && requests++ % verifyEvery == 0 && !signed(req, bytes)) {
      return 401;
    }
    try {
      delivery.parse(bytes);
    } catch (IOException | RuntimeException e) {
      verifier.error("unparsable callback body (" + e.getMessage() + ")");
      return 400;
    }
    Verifier.MerchantState m = verifier.merchant(delivery.merchantId);
    if (m == null || delivery.count == 0) {
      return 400;
    }
    for (int i = 0; i < delivery.count; i++) {
      verifier.event(
          m, delivery.seqs[i], delivery.orderIds[i], delivery.types[i], delivery.ats[i], arrival);
    }
    return 204;
  }

  private boolean signed(HttpServerRequest req, byte[] body) {
    String id = req.getHeader("webhook-id");
    String ts = req.getHeader("webhook-timestamp");
    String header = req.getHeader("webhook-signature");
    if (mac == null || id == null || ts == null || header == null) {
      verifier.error("callback without webhook-id/-timestamp/-signature");
      return false;
    }
    mac.update((id + "." + ts + ".").getBytes(StandardCharsets.UTF_8));
    byte[] expected = mac.doFinal(body);
    for (String sig : header.split(" ")) {
      if (sig.startsWith("v1,")
          && MessageDigest.isEqual(expected, Base64.getDecoder().decode(sig.substring(3)))) {
        verified++;
        return true;
      }
    }
    verifier.error("bad webhook signature on " + id);
    return false;
  }

  <T> Future<T> onLoop(Callable<T> task) {
    Promise<T> p = Promise.promise();
    ctx.runOnContext(
        v -> {
          try {
            p.complete(task.call());
          } catch (Exception | Error e) {
            p.fail(e instanceof GeneralSecurityException ? new IllegalStateException(e) : e);
          }
        });
    return p.future();
  }

  Future<Void> close() {
    return onLoop(() -> server == null ? Future.<Void>succeededFuture() : server.close())
        .compose(f -> f);
  }
}
