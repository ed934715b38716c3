package io.orderpush.perf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closed-loop load generator for {@code POST /v1/events}: keeps {@code concurrency} requests of
 * {@code batch} events in flight over keep-alive connections, for {@code warmup} then {@code
 * duration} seconds. Checks every answer (200, one result per event in order, no duplicates, seqs
 * increasing per merchant), retries 503s after Retry-After, and prints a summary line and a {@code
 * RESULT_JSON {...}} line. Exit status 1 if any check failed.
 *
 * <p>Everything runs on one event loop: on a 2-core box shared with the gateway, PostgreSQL and
 * Redis, the generator should take as little CPU as possible (see {@link EventFactory}).
 */
public final class IngestBench {

  private static final JsonFactory JSON = new JsonFactory();

  private final Params p;
  private final Vertx vertx;
  private final HttpClientAgent client;
  private final RequestOptions request;
  private final EventFactory factory;
  private final BenchStats stats;
  private final long[] lastSeqInBatch;
  private final int[] batchStamp;
  private int stamp;
  private boolean running = true;
  private int inFlight;
  private int loggedErrors;
  private final CompletableFuture<Void> drained = new CompletableFuture<>();

  private IngestBench(Params p, Vertx vertx) {
    this.p = p;
    this.vertx = vertx;
    this.client =
        vertx.createHttpClient(
            new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true),
            new PoolOptions().setHttp1MaxSize(p.concurrency()));
    this.request =
        new RequestOptions()
            .setMethod(HttpMethod.POST)
            .setHost(p.url().getHost())
            .setPort(p.port())
            .setURI(p.url().getRawPath())
            .putHeader("Authorization", "Bearer " + p.token())
            .putHeader("Content-Type", "application/json")
            .setTimeout(TimeUnit.SECONDS.toMillis(60));
    this.factory =
        new EventFactory(
            Long.toString(System.currentTimeMillis(), 36),
            p.merchantPrefix(),
            p.merchants(),
            p.seed());
    this.stats = new BenchStats(p.merchants());
    this.lastSeqInBatch = new long[p.merchants()];
    this.batchStamp = new int[p.merchants()];
  }

  public static void main(String[] args) throws Exception {
    Params p;
    try {
      p = Params.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1));
    IngestBench bench = new IngestBench(p, vertx);
    Context ctx = vertx.getOrCreateContext();
    ctx.runOnContext(v -> bench.start());
    Thread.sleep(TimeUnit.SECONDS.toMillis(p.warmupSeconds()));
    long measuredFrom = System.nanoTime();
    ctx.runOnContext(v -> bench.stats.startMeasuring());
    Thread.sleep(TimeUnit.SECONDS.toMillis(p.durationSeconds()));
    CompletableFuture<Double> stopped = new CompletableFuture<>();
    ctx.runOnContext(
        v -> {
          bench.stats.stopMeasuring();
          bench.running = false;
          stopped.complete((System.nanoTime() - measuredFrom) / 1e9);
          bench.maybeDrained();
        });
    double seconds = stopped.get();
    try {
      bench.drained.get(70, TimeUnit.SECONDS); // requests in flight still get checked
    } catch (java.util.concurrent.TimeoutException e) {
      System.err.println("warning: requests still in flight after 70 s");
    }
    CompletableFuture<String[]> out = new CompletableFuture<>();
    ctx.runOnContext(
        v -> {
          bench.stats.checkSeqs();
          out.complete(
              new String[] {
                bench.stats.summaryLine(p, seconds), bench.stats.toJson(p, seconds).encode()
              });
        });
    String[] lines = out.get();
    System.out.println(lines[0]);
    System.out.println("RESULT_JSON " + lines[1]);
    long errors = bench.stats.errorCount();
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    System.exit(errors == 0 ? 0 : 1);
  }

  private void start() {
    for (int i = 0; i < p.concurrency(); i++) {
      sendNext();
    }
  }

  private void sendNext() {
    if (running) {
      EventFactory.Batch b = factory.next(p.batch());
      send(b, System.nanoTime());
    }
  }

  private void send(EventFactory.Batch b, long startedNanos) {
    inFlight++;
    client
        .request(request)
        .compose(req -> req.send(b.body()))
        .compose(resp -> resp.body().map(body -> answered(b, startedNanos, resp, body)))
        .onComplete(
            ar -> {
              inFlight--;
              if (ar.failed()) {
                fail("io:" + ar.cause().getClass().getSimpleName(), ar.cause().getMessage());
                sendNext();
              } else if (ar.result()) {
                sendNext();
              }
              maybeDrained();
            });
  }

  /** Returns whether to send the next batch now (false: a 503 retry of this one is scheduled). */
  private boolean answered(
      EventFactory.Batch b, long startedNanos, HttpClientResponse resp, Buffer body) {
    int status = resp.statusCode();
    if (status == 200) {
      long latency = System.nanoTime() - startedNanos;
      if (check(b, body)) {
        stats.acked(latency, p.batch());
      }
      return true;
    }
    if (status == 503 && running) {
      stats.retry();
      long delayMs = retryAfterMillis(resp.getHeader("Retry-After"));
      inFlight++; // the retry is still this batch in flight
      vertx.setTimer(
          delayMs,
          id -> {
            inFlight--;
            send(b, startedNanos);
          });
      return false;
    }
    fail("http:" + status, body.toString().substring(0, Math.min(300, body.length())));
    return true;
  }

  /**
   * Checks a 200 answer: one result per event, in order, fresh (not duplicate), seqs increasing per
   * merchant.
   */
  private boolean check(EventFactory.Batch b, Buffer body) {
    stamp++;
    int i = 0;
    boolean ok = true;
    try (JsonParser jp = JSON.createParser(body.getBytes())) {
      if (jp.nextToken() != JsonToken.START_ARRAY) {
        throw new IOException("answer is not a JSON array");
      }
      while (jp.nextToken() == JsonToken.START_OBJECT) {
        String eventId = null;
        long seq = -1;
        boolean duplicate = false;
        while (jp.nextToken() == JsonToken.FIELD_NAME) {
          String field = jp.currentName();
          jp.nextToken();
          switch (field) {
            case "eventId" -> eventId = jp.getText();
            case "seq" -> seq = jp.getLongValue();
            case "duplicate" -> duplicate = jp.getBooleanValue();
            default -> jp.skipChildren();
          }
        }
        if (i >= b.eventIds().length || !b.eventIds()[i].equals(eventId) || seq < 1) {
          stats.wrongAnswers++;
          ok = false;
        } else {
          int m = b.merchantOf()[i];
          if (duplicate) {
            stats.duplicates++;
            ok = false;
          }
          if (batchStamp[m] == stamp && seq <= lastSeqInBatch[m]) {
            stats.orderViolations++;
            ok = false;
          }
          batchStamp[m] = stamp;
          lastSeqInBatch[m] = seq;
          stats.seq(m, seq);
        }
        i++;
      }
    } catch (IOException e) {
      fail("bad-answer", e.getMessage());
      return false;
    }
    if (i != b.eventIds().length) {
      fail("bad-answer", "expected " + b.eventIds().length + " results, got " + i);
      return false;
    }
    return ok;
  }

  private static long retryAfterMillis(String header) {
    try {
      return header == null ? 1000 : Math.max(0, Long.parseLong(header.trim()) * 1000);
    } catch (NumberFormatException e) {
      return 1000;
    }
  }

  private void fail(String kind, String detail) {
    stats.error(kind);
    if (loggedErrors++ < 5) {
      System.err.println("error " + kind + ": " + detail);
    }
  }

  private void maybeDrained() {
    if (!running && inFlight == 0) {
      drained.complete(null);
    }
  }
}
