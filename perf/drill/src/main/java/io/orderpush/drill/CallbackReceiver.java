package io.orderpush.drill;

import io.orderpush.client.Batch;
import io.orderpush.client.Event;
import io.orderpush.client.OrderPushException;
import io.orderpush.client.WebhookVerificationException;
import io.orderpush.client.WebhookVerifier;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import java.time.Instant;
import java.util.concurrent.Callable;

/**
 * The drill's HTTP callback app: a receiver on 127.0.0.1 (one event loop) that applies each POSTed
 * batch through its {@link Verifier} and then answers 204, which acknowledges the batch. Every
 * {@code verifyEvery}-th request's Standard Webhooks signature is checked with the client library's
 * {@link WebhookVerifier}; a bad one is an error and is answered 401 (the gateway retries it).
 * Bodies are parsed by the library ({@link Batch#fromJson}); every event goes to the verifier,
 * repeats included (the verifier counts them), and the 204 is reported to it as the batch's ack.
 * One receiver serves every gateway node: whichever node owns a channel posts it here.
 */
final class CallbackReceiver {

  private final Vertx vertx;
  private final Context ctx;
  private final Verifier verifier;
  private final int verifyEvery;
  private HttpServer server;
  private WebhookVerifier signatures;
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
    return onLoop(
        () -> {
          signatures = new WebhookVerifier(whsec);
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
    Batch batch;
    try {
      batch = Batch.fromJson(bytes);
    } catch (OrderPushException e) {
      verifier.error("unparsable callback body (" + e.getMessage() + ")");
      return 400;
    }
    Verifier.MerchantState m = verifier.merchant(batch.merchantId());
    if (m == null || batch.events().isEmpty()) {
      return 400;
    }
    for (Event e : batch.events()) {
      verifier.event(m, e.seq(), e.orderId(), e.type(), e.ingestedAt(), arrival);
    }
    verifier.acked(m, batch.lastSeq(), arrival / 1000); // answered 204 now: the batch's ack
    return 204;
  }

  private boolean signed(HttpServerRequest req, byte[] body) {
    if (signatures == null) {
      verifier.error("callback before the webhook secret was known");
      return false;
    }
    try {
      signatures.verify(body, req::getHeader);
      verified++;
      return true;
    } catch (WebhookVerificationException e) {
      verifier.error("bad webhook signature: " + e.getMessage());
      return false;
    }
  }

  <T> Future<T> onLoop(Callable<T> task) {
    Promise<T> p = Promise.promise();
    ctx.runOnContext(
        v -> {
          try {
            p.complete(task.call());
          } catch (Exception | Error e) {
            p.fail(e);
          }
        });
    return p.future();
  }

  Future<Void> close() {
    return onLoop(() -> server == null ? Future.<Void>succeededFuture() : server.close())
        .compose(f -> f);
  }
}
