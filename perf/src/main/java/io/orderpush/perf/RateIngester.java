package io.orderpush.perf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Recorder;

/**
 * Open-model ingest load: batches of {@code batch} events are due at a fixed rate, whatever the
 * answers do (the n-th batch of a rate is due at n * batch / rate seconds); a timer sends every
 * batch that is due. Latency is measured from when a batch was due, so a slow gateway shows as
 * latency (no coordinated omission). Past {@code maxInFlight} requests, due batches are not sent
 * and counted as missed, which shows as an achieved rate below the target. 503s are counted, not
 * retried. Confined to its own event loop; the counters are read from other threads.
 */
final class RateIngester {

  private static final JsonFactory JSON = new JsonFactory();
  private static final long TICK_MS = 2;

  private final Context ctx;
  private final HttpClientAgent client;
  private final List<RequestOptions> nodes = new ArrayList<>();
  private int nextNode;
  private final EventFactory factory;
  private final int batch;
  private final int maxInFlight;
  private final long[] maxSeq;

  /** Intended-start-to-answer latency of 200 answers, microseconds, while measuring. */
  final Recorder latencyMicros = new Recorder(3);

  volatile boolean measuring;
  volatile long stored;
  volatile long requests;
  volatile long rejected503;
  volatile long missed;
  volatile long errors;
  volatile int inFlight;
  private double rate;
  private long rateStartNanos;
  private long sentAtRate;
  private long timer = -1;
  private CompletableFuture<Void> idle;

  RateIngester(
      Vertx vertx,
      URI base,
      String ingestToken,
      EventFactory factory,
      int merchants,
      int batch,
      int maxInFlight) {
    this(vertx, List.of(base), ingestToken, factory, merchants, batch, maxInFlight);
  }

  /** Requests go round robin over {@code bases} (the nodes of a cluster, as a load balancer). */
  RateIngester(
      Vertx vertx,
      List<URI> bases,
      String ingestToken,
      EventFactory factory,
      int merchants,
      int batch,
      int maxInFlight) {
    this.ctx = vertx.getOrCreateContext();
    this.client =
        vertx.createHttpClient(
            new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true),
            new PoolOptions().setHttp1MaxSize(maxInFlight));
    for (URI base : bases) {
      nodes.add(
          new RequestOptions()
              .setMethod(HttpMethod.POST)
              .setHost(base.getHost())
              .setPort(base.getPort())
              .setURI("/v1/events")
              .putHeader("Authorization", "Bearer " + ingestToken)
              .putHeader("Content-Type", "application/json")
              .setTimeout(TimeUnit.SECONDS.toMillis(60)));
    }
    this.factory = factory;
    this.batch = batch;
    this.maxInFlight = maxInFlight;
    this.maxSeq = new long[merchants];
  }

  /** Sets the target rate in events/s (0 stops sending); batches become due from now on. */
  void setRate(double eventsPerSecond) {
    ctx.runOnContext(
        v -> {
          rate = eventsPerSecond;
          rateStartNanos = System.nanoTime();
          sentAtRate = 0;
          if (rate > 0 && timer < 0) {
            timer = ctx.owner().setPeriodic(TICK_MS, id -> tick());
          } else if (rate <= 0 && timer >= 0) {
            ctx.owner().cancelTimer(timer);
            timer = -1;
          }
        });
  }

  /** Stops sending; completes when no request is in flight. */
  CompletableFuture<Void> stop() {
    CompletableFuture<Void> f = new CompletableFuture<>();
    setRate(0);
    ctx.runOnContext(
        v -> {
          idle = f;
          if (inFlight == 0) {
            f.complete(null);
          }
        });
    return f;
  }

  /** Highest seq answered per merchant index (a copy). */
  CompletableFuture<long[]> maxSeqs() {
    CompletableFuture<long[]> f = new CompletableFuture<>();
    ctx.runOnContext(v -> f.complete(maxSeq.clone()));
    return f;
  }

  private void tick() {
    long now = System.nanoTime();
    double intervalNanos = batch * 1e9 / rate;
    while (rate > 0) {
      long due = rateStartNanos + (long) (sentAtRate * intervalNanos);
      if (due > now) {
        break;
      }
      sentAtRate++;
      if (inFlight >= maxInFlight) {
        missed += batch;
      } else {
        send(factory.next(batch), due);
      }
    }
  }

  private void send(EventFactory.Batch b, long dueNanos) {
    inFlight++;
    RequestOptions request = nodes.get(nextNode);
    nextNode = (nextNode + 1) % nodes.size();
    client
        .request(request)
        .compose(req -> req.send(b.body()))
        .compose(
            resp ->
                resp.body()
                    .map(
                        body -> {
                          answered(b, dueNanos, resp.statusCode(), body);
                          return null;
                        }))
        .onComplete(
            ar -> {
              inFlight--;
              if (ar.failed()) {
                error("request failed: " + ar.cause());
              }
              if (inFlight == 0 && idle != null) {
                idle.complete(null);
              }
            });
  }

  private void answered(EventFactory.Batch b, long dueNanos, int status, Buffer body) {
    requests++;
    if (status == 503) {
      rejected503 += b.eventIds().length;
      return;
    }
    if (status != 200) {
      error("HTTP " + status + ": " + body.toString().substring(0, Math.min(200, body.length())));
      return;
    }
    if (measuring) {
      latencyMicros.recordValue(Math.max(1, (System.nanoTime() - dueNanos) / 1000));
    }
    int i = 0;
    long fresh = 0;
    try (JsonParser p = JSON.createParser(body.getBytes())) {
      p.nextToken();
      while (p.nextToken() == JsonToken.START_OBJECT) {
        long seq = -1;
        boolean duplicate = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String f = p.currentName();
          p.nextToken();
          if (f.equals("seq")) {
            seq = p.getLongValue();
          } else if (f.equals("duplicate")) {
            duplicate = p.getBooleanValue();
          }
        }
        int m = b.merchantOf()[i++];
        if (duplicate) {
          error("event " + b.eventIds()[i - 1] + " answered as duplicate");
        } else {
          fresh++;
          maxSeq[m] = Math.max(maxSeq[m], seq);
        }
      }
    } catch (IOException e) {
      error("unparsable answer: " + e);
    }
    if (i != b.eventIds().length) {
      error("answer has " + i + " results for " + b.eventIds().length + " events");
    }
    stored += fresh;
  }

  private void error(String what) {
    if (++errors <= 20) {
      System.err.println("INGEST ERROR: " + what);
    }
  }
}
