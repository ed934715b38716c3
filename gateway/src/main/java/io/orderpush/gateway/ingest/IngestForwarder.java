package io.orderpush.gateway.ingest;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /v1/events} on a node that is not the cluster's writer ({@link IngestWriter}), when
 * the commit feed is off ({@code ingest.commit-feed=false}; with it on, a request is parsed where
 * it lands and its events go to the writer over the feed, {@link CommitFeed#append}): sends the
 * authenticated, admitted request body as it came to the writer's {@code POST /v1/events} with the
 * caller's own token, and answers with the writer's answer (status, body, {@code Retry-After}). The
 * writer validates and commits the batch; nothing is parsed here.
 *
 * <p>A forwarded request carries {@link #HEADER}, and a node always writes such a request itself:
 * no loops, whatever the nodes' views. The writer's address in Redis is trusted as it is (with the
 * commit feed on, only a writer that proved it holds the cluster's key is sent anything). When the
 * writer cannot be reached or does not answer in time (connection refused, timeout, too many
 * forwards waiting), this node writes the batch itself ({@code ctx.next()}): a batch the writer did
 * commit comes back as duplicates, with the same seqs, since ingest is idempotent by event id.
 * Forwarding saves contention, never correctness.
 */
public final class IngestForwarder implements Handler<RoutingContext> {

  /** Marks a request forwarded by a node (its value: that node's id). */
  public static final String HEADER = "X-Orderpush-Forwarded";

  private static final Logger LOG = LoggerFactory.getLogger(IngestForwarder.class);

  private final Supplier<String[]> target;
  private final String nodeId;
  private final HttpClientAgent client;
  private final long timeoutMs;
  private final Counter forwarded;
  private final Counter wroteHere;
  private volatile boolean failing;

  /**
   * @param target the writer's node id and base URL, or null to write here ({@link
   *     IngestWriter#writerNode})
   * @param timeout how long a forwarded request may take before this node writes it itself
   * @param maxConnections connections to the writer; forwards beyond them wait, at most as many
   *     again, and the rest are written here
   */
  public IngestForwarder(
      Vertx vertx,
      Supplier<String[]> target,
      String nodeId,
      Duration timeout,
      int maxConnections,
      MeterRegistry registry) {
    this.target = target;
    this.nodeId = nodeId;
    this.timeoutMs = timeout.toMillis();
    this.client =
        vertx.createHttpClient(
            new HttpClientOptions()
                .setKeepAlive(true)
                .setConnectTimeout((int) Math.min(2_000, timeoutMs))
                .setIdleTimeout(60),
            new PoolOptions().setHttp1MaxSize(maxConnections).setMaxWaitQueueSize(maxConnections));
    this.forwarded = outcome("forwarded", registry);
    this.wroteHere = outcome("written_here", registry);
  }

  /**
   * Ingest requests sent on to the writer and answered by it, or written here: by this forwarder,
   * or by the commit feed ({@link CommitFeed#append}) where it forwards instead.
   */
  static Counter outcome(String outcome, MeterRegistry registry) {
    return Counter.builder("gateway.ingest.forwarded")
        .tag("outcome", outcome)
        .description(
            "Ingest requests sent on to the cluster's writer node and answered by it (forwarded),"
                + " written here because it could not take them (written_here), or not answered"
                + " in time by a writer still heard (timed_out, answered 503)")
        .register(registry);
  }

  @Override
  public void handle(RoutingContext ctx) {
    String[] writer = ctx.request().getHeader(HEADER) == null ? target.get() : null;
    if (writer == null) {
      ctx.next();
      return;
    }
    String to = writer[1];
    Buffer body = ctx.body().buffer();
    java.net.URI base = java.net.URI.create(to);
    RequestOptions req =
        new RequestOptions()
            .setMethod(HttpMethod.POST)
            .setHost(base.getHost())
            .setPort(base.getPort())
            .setSsl("https".equals(base.getScheme()))
            .setURI("/v1/events")
            .setTimeout(timeoutMs)
            .putHeader(
                HttpHeaders.AUTHORIZATION, ctx.request().getHeader(HttpHeaders.AUTHORIZATION))
            .putHeader(HEADER, nodeId);
    String type = ctx.request().getHeader(HttpHeaders.CONTENT_TYPE);
    if (type != null) {
      req.putHeader(HttpHeaders.CONTENT_TYPE, type);
    }
    String requestId = ctx.response().headers().get("X-Request-Id");
    if (requestId != null) {
      req.putHeader("X-Request-Id", requestId);
    }
    client
        .request(req)
        .compose(r -> r.send(body == null ? Buffer.buffer() : body))
        .compose(resp -> resp.body().map(b -> new Answer(resp.statusCode(), resp, b)))
        .onComplete(
            ar -> {
              if (ctx.response().ended() || ctx.response().closed()) {
                return;
              }
              if (ar.failed()) {
                wroteHere.increment();
                if (!failing) {
                  failing = true;
                  LOG.warn(
                      "forwarding ingest to {} failed ({}); writing here until it works again",
                      to,
                      ar.cause().toString());
                }
                ctx.next();
                return;
              }
              if (failing) {
                failing = false;
                LOG.info("forwarding ingest to {} works again", to);
              }
              forwarded.increment();
              Answer a = ar.result();
              var out = ctx.response().setStatusCode(a.status());
              for (String h : new String[] {"Content-Type", "Retry-After"}) {
                String v = a.response().getHeader(h);
                if (v != null) {
                  out.putHeader(h, v);
                }
              }
              out.end(a.body());
            });
  }

  private record Answer(int status, io.vertx.core.http.HttpClientResponse response, Buffer body) {}
}
