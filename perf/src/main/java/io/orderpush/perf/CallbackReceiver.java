package io.orderpush.perf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.orderpush.client.WebhookVerificationException;
import io.orderpush.client.WebhookVerifier;
import io.orderpush.drill.IngestedAt;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.HdrHistogram.Recorder;

/**
 * A fast HTTP callback receiver for perf/callback-bench.sh: a Vert.x HttpServer on one event loop
 * that answers every POST with 204 as soon as the body is in, then checks it:
 *
 * <ul>
 *   <li>per merchant, every event's seq is the last received + 1 (dense order, from seq 1): a seq
 *       at or below the last one is a <em>duplicate</em> (counted), a seq above last + 1 is a
 *       <em>gap</em> (an error);
 *   <li>every {@code verifyEvery}-th request: the Standard Webhooks signature and timestamp, with
 *       the client library's {@link WebhookVerifier};
 *   <li>the body parses, carries a merchantId and at least one event with a seq.
 * </ul>
 *
 * Latency recorded per newly received event: receipt of the whole body minus its {@code ingestedAt}
 * (same clock, machine-local), microseconds. All state is confined to the receiver's event loop;
 * counters are volatile for the main thread's progress lines.
 */
final class CallbackReceiver {

  private static final JsonFactory JSON = new JsonFactory();
  private static final int MAX_PRINTED_ERRORS = 20;

  private final Vertx vertx;
  private final Context ctx;
  private final int verifyEvery;
  private final Map<String, long[]> lastSeq = new HashMap<>();
  private HttpServer server;
  private WebhookVerifier signatures;
  final Recorder latencyMicros = new Recorder(3);
  volatile boolean measuring;

  /** Newly received events (not duplicates). */
  volatile long received;

  volatile long duplicates;
  volatile long gaps;
  volatile long requests;
  volatile long bytes;
  volatile long verified;
  volatile long errors;
  volatile long connections;
  volatile long firstNanos;
  private long target = Long.MAX_VALUE;
  private CompletableFuture<Long> reached;
  private final IngestedAt ingestedAt = new IngestedAt();
  private long[] seqs = new long[1024];
  private String[] ats = new String[1024];

  CallbackReceiver(Vertx vertx, int verifyEvery) {
    this.vertx = vertx;
    this.ctx = vertx.getOrCreateContext();
    this.verifyEvery = verifyEvery;
  }

  /** Listens on 127.0.0.1 on a free port; completes with the port. */
  Future<Integer> listen() {
    Promise<Integer> p = Promise.promise();
    ctx.runOnContext(
        v -> {
          server =
              vertx
                  .createHttpServer(new HttpServerOptions().setTcpNoDelay(true).setIdleTimeout(0))
                  .connectionHandler(c -> connections++)
                  .requestHandler(this::handle);
          server
              .listen(0, "127.0.0.1")
              .onComplete(
                  ar -> {
                    if (ar.failed()) {
                      p.fail(ar.cause());
                    } else {
                      p.complete(ar.result().actualPort());
                    }
                  });
        });
    return p.future();
  }

  /** The app's webhook secret ({@code whsec_...}), for the sampled signature checks. */
  void secret(String whsec) {
    WebhookVerifier v = new WebhookVerifier(whsec);
    ctx.runOnContext(x -> signatures = v);
  }

  private void handle(HttpServerRequest req) {
    req.body()
        .onComplete(
            ar -> {
              if (ar.failed()) {
                error("reading a request failed: " + ar.cause());
                return;
              }
              long arrivalMicros = StreamConsumer.micros(Instant.now());
              req.response().setStatusCode(204).end();
              check(req, ar.result(), arrivalMicros);
            });
  }

  private void check(HttpServerRequest req, Buffer body, long arrivalMicros) {
    long n = ++requests;
    bytes += body.length();
    if (firstNanos == 0) {
      firstNanos = System.nanoTime();
    }
    if (!"/hook".equals(req.path()) || req.method() != io.vertx.core.http.HttpMethod.POST) {
      error("unexpected request " + req.method() + " " + req.uri());
      return;
    }
    byte[] bytesOf = body.getBytes();
    if (verifyEvery > 0 && n % verifyEvery == 1 % verifyEvery) {
      verify(req, bytesOf);
    }
    String merchantId = null;
    int count = 0;
    try (JsonParser p = JSON.createParser(bytesOf)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("not a JSON object");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String f = p.currentName();
        p.nextToken();
        if (f.equals("merchantId")) {
          merchantId = p.getText();
        } else if (f.equals("events")) {
          while (p.nextToken() == JsonToken.START_OBJECT) {
            if (count == seqs.length) {
              seqs = java.util.Arrays.copyOf(seqs, count * 2);
              ats = java.util.Arrays.copyOf(ats, count * 2);
            }
            seqs[count] = -1;
            ats[count] = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
              String g = p.currentName();
              p.nextToken();
              if (g.equals("seq")) {
                seqs[count] = p.getLongValue();
              } else if (g.equals("ingestedAt")) {
                ats[count] = p.getText();
              } else {
                p.skipChildren();
              }
            }
            count++;
          }
        } else {
          p.skipChildren();
        }
      }
    } catch (IOException | RuntimeException e) {
      error(
          "unparsable body ("
              + e
              + "): "
              + body.toString().substring(0, Math.min(200, body.length())));
      return;
    }
    if (merchantId == null || count == 0) {
      error(
          "body without merchantId or events: "
              + body.toString().substring(0, Math.min(200, body.length())));
      return;
    }
    long[] last = lastSeq.computeIfAbsent(merchantId, m -> new long[1]);
    long newly = 0;
    for (int i = 0; i < count; i++) {
      long seq = seqs[i];
      if (seq <= last[0]) {
        if (++duplicates <= MAX_PRINTED_ERRORS) {
          System.err.println(
              "RECEIVER: duplicate seq "
                  + seq
                  + " of merchant "
                  + merchantId
                  + " (last "
                  + last[0]
                  + ", webhook-id "
                  + req.getHeader("webhook-id")
                  + ")");
        }
        continue;
      }
      if (seq != last[0] + 1) {
        gaps++;
        error(
            "merchant "
                + merchantId
                + ": seq "
                + seq
                + " arrived where "
                + (last[0] + 1)
                + " was due");
      }
      last[0] = seq;
      newly++;
      if (measuring && ats[i] != null) {
        latencyMicros.recordValue(Math.max(0, arrivalMicros - ingestedAt.millis(ats[i]) * 1000));
      }
    }
    received += newly;
    if (received >= target && reached != null) {
      reached.complete(System.nanoTime());
      reached = null;
    }
  }

  private void verify(HttpServerRequest req, byte[] body) {
    if (signatures == null) {
      error("signature check: no secret");
      return;
    }
    try {
      signatures.verify(body, req::getHeader);
      verified++;
    } catch (WebhookVerificationException e) {
      error("signature check: " + e.getMessage());
    }
  }

  /** Completes with System.nanoTime() when {@code total} new events have been received. */
  CompletableFuture<Long> whenReceived(long total) {
    CompletableFuture<Long> f = new CompletableFuture<>();
    ctx.runOnContext(
        v -> {
          target = total;
          reached = f;
          if (received >= total) {
            f.complete(System.nanoTime());
            reached = null;
          }
        });
    return f;
  }

  /** Last received seq per merchant (a copy, taken on the receiver's event loop). */
  CompletableFuture<Map<String, Long>> lastSeqs() {
    CompletableFuture<Map<String, Long>> f = new CompletableFuture<>();
    ctx.runOnContext(
        v -> {
          Map<String, Long> out = new HashMap<>();
          lastSeq.forEach((m, l) -> out.put(m, l[0]));
          f.complete(out);
        });
    return f;
  }

  Future<Void> close() {
    Promise<Void> p = Promise.promise();
    ctx.runOnContext(
        v -> (server == null ? Future.<Void>succeededFuture() : server.close()).onComplete(p));
    return p.future();
  }

  private void error(String what) {
    long n = ++errors;
    if (n <= MAX_PRINTED_ERRORS) {
      System.err.println("RECEIVER ERROR: " + what);
    } else if (n == MAX_PRINTED_ERRORS + 1) {
      System.err.println("RECEIVER ERROR: (more errors, not printed)");
    }
  }
}
