package io.orderpush.persistence.redis;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.orderpush.persistence.PersistenceException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One shared Lettuce connection (Lettuce multiplexes commands over it), used through the async API
 * only and bridged to Vert.x futures so no event loop ever blocks on Redis. The connection is to a
 * single Redis or to a Redis Cluster ({@link RedisSettings#cluster()}): on a cluster, Lettuce
 * routes each command by its key's slot, learns the topology from the seeds, refreshes it every
 * {@link #TOPOLOGY_REFRESH} and at once on {@code MOVED}/{@code ASK} or a lost node, and splits
 * multi-key commands such as {@code UNLINK} by slot. Callers see one command interface either way.
 *
 * <p>The gateway starts without Redis (ingest does not need it): until the first connection
 * succeeds, it is retried every second and commands fail at once with {@link
 * RedisUnavailableException}. Once connected, Lettuce reconnects by itself and rejects commands
 * while Redis is away.
 */
public final class RedisStore {

  private static final Logger LOG = LoggerFactory.getLogger(RedisStore.class);
  static final long RETRY_MS = 1000;
  static final Duration TOPOLOGY_REFRESH = Duration.ofSeconds(10);

  /** Commands a cluster node's connection holds while it (re)connects. */
  static final int CLUSTER_QUEUE = 10_000;

  private final Vertx vertx;
  private final RedisSettings settings;
  // Exactly one of the two.
  private final RedisClient single;
  private final RedisClusterClient cluster;
  private final List<RedisURI> uris;
  private volatile StatefulConnection<String, String> connection;
  private volatile RedisClusterAsyncCommands<String, String> commands;
  private volatile boolean closed;
  private long retryTimer = -1;
  private final AtomicLong scriptReloads = new AtomicLong();

  private RedisStore(Vertx vertx, RedisSettings settings) {
    this.vertx = vertx;
    this.settings = settings;
    this.uris =
        settings.urls().stream()
            .map(
                u -> {
                  RedisURI uri = RedisURI.create(u);
                  uri.setTimeout(settings.commandTimeout());
                  return uri;
                })
            .toList();
    TimeoutOptions timeouts = TimeoutOptions.enabled(settings.commandTimeout());
    if (settings.cluster()) {
      this.single = null;
      this.cluster = RedisClusterClient.create(uris);
      cluster.setOptions(
          ClusterClientOptions.builder()
              .timeoutOptions(timeouts)
              // A cluster connects to each node lazily, on the first command for its slots; to
              // reject while disconnected would refuse that first command too. Instead commands
              // wait in a bounded queue and fail after the command timeout.
              .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS)
              .requestQueueSize(CLUSTER_QUEUE)
              .topologyRefreshOptions(
                  ClusterTopologyRefreshOptions.builder()
                      .enablePeriodicRefresh(TOPOLOGY_REFRESH)
                      .enableAllAdaptiveRefreshTriggers()
                      .build())
              .build());
    } else {
      this.cluster = null;
      this.single = RedisClient.create(uris.get(0));
      single.setOptions(
          ClientOptions.builder()
              .timeoutOptions(timeouts)
              // While Redis is away, fail commands at once instead of queueing them without bound.
              .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
              .build());
    }
  }

  /**
   * Connects, waiting for the first attempt only; if Redis is down it keeps trying in the
   * background.
   */
  public static Future<RedisStore> connect(Vertx vertx, RedisSettings settings) {
    RedisStore store = new RedisStore(vertx, settings);
    return store
        .attempt()
        .transform(
            ar -> {
              if (ar.failed()) {
                LOG.warn(
                    "Redis at {} is not answering ({}); delivery waits for it, ingest goes on",
                    settings.redacted(),
                    ar.cause().getMessage());
                store.scheduleRetry();
              }
              return Future.succeededFuture(store);
            });
  }

  private Future<Void> attempt() {
    Context ctx = vertx.getOrCreateContext();
    Future<? extends StatefulConnection<String, String>> connecting =
        cluster != null
            // the topology first (CLUSTER NODES through a seed): connectAsync needs it
            ? Future.fromCompletionStage(
                cluster
                    .refreshPartitionsAsync()
                    .thenCompose(v -> cluster.connectAsync(StringCodec.UTF8)),
                ctx)
            : Future.fromCompletionStage(single.connectAsync(StringCodec.UTF8, uris.get(0)), ctx);
    return connecting.map(
        conn -> {
          if (closed) {
            conn.closeAsync();
          } else {
            commands =
                conn instanceof StatefulRedisClusterConnection<String, String> cc
                    ? cc.async()
                    : ((StatefulRedisConnection<String, String>) conn).async();
            connection = conn;
            LOG.info("connected to Redis at {}", settings.redacted());
          }
          return null;
        });
  }

  private void scheduleRetry() {
    if (!closed) {
      retryTimer = vertx.setTimer(RETRY_MS, t -> attempt().onFailure(err -> scheduleRetry()));
    }
  }

  public boolean connected() {
    StatefulConnection<String, String> c = connection;
    return c != null && c.isOpen();
  }

  /** Whether this is a Redis Cluster: every key of one script must then share a hash slot. */
  public boolean cluster() {
    return cluster != null;
  }

  /** Runs one command; completes on {@code ctx}, or fails at once while Redis was never reached. */
  public <T> Future<T> call(
      Context ctx,
      Function<RedisClusterAsyncCommands<String, String>, CompletionStage<T>> command) {
    RedisClusterAsyncCommands<String, String> c = commands;
    if (c == null) {
      return Future.failedFuture(
          new RedisUnavailableException("Redis at " + settings.redacted() + " is not connected"));
    }
    return Future.fromCompletionStage(command.apply(c), ctx);
  }

  /**
   * Publishes {@code message} on {@code channel}: sharded ({@code SPUBLISH}, to the channel's shard
   * only) on a cluster, plain {@code PUBLISH} on a single Redis.
   */
  public Future<Long> publish(Context ctx, String channel, String message) {
    return cluster != null
        ? call(ctx, c -> c.spublish(channel, message))
        : call(ctx, c -> c.publish(channel, message));
  }

  /**
   * A dedicated publish/subscribe connection (a subscribed connection runs no other command);
   * Lettuce subscribes it again by itself after a reconnect. The caller closes it. Subscribe with
   * {@link #subscribe}, and listen to both {@code message} and {@code smessage}.
   */
  public Future<StatefulRedisPubSubConnection<String, String>> connectPubSub(Context ctx) {
    if (cluster != null) {
      return Future.fromCompletionStage(
              cluster
                  .refreshPartitionsAsync()
                  .thenCompose(v -> cluster.connectPubSubAsync(StringCodec.UTF8)),
              ctx)
          .map(c -> (StatefulRedisPubSubConnection<String, String>) c);
    }
    return Future.fromCompletionStage(
        single.connectPubSubAsync(StringCodec.UTF8, uris.get(0)), ctx);
  }

  /** Subscribes {@code conn} to what {@link #publish} sends on {@code channel}. */
  public Future<Void> subscribe(
      Context ctx, StatefulRedisPubSubConnection<String, String> conn, String channel) {
    return Future.fromCompletionStage(
        cluster != null ? conn.async().ssubscribe(channel) : conn.async().subscribe(channel), ctx);
  }

  /** A script the server had lost was sent whole again ({@link RedisScript}). */
  void scriptReloaded() {
    scriptReloads.incrementAndGet();
  }

  /** How many times a script was sent whole because the server did not hold it. */
  public long scriptReloads() {
    return scriptReloads.get();
  }

  /** PING, completing on the caller's context. */
  public Future<Void> ping(Vertx vertx) {
    return call(vertx.getOrCreateContext(), RedisClusterAsyncCommands::ping).mapEmpty();
  }

  public Future<Void> close(Vertx vertx) {
    closed = true;
    if (retryTimer >= 0) {
      vertx.cancelTimer(retryTimer);
    }
    StatefulConnection<String, String> c = connection;
    Future<Void> closing =
        c == null
            ? Future.succeededFuture()
            : Future.fromCompletionStage(c.closeAsync(), vertx.getOrCreateContext()).mapEmpty();
    AbstractRedisClient client = cluster != null ? cluster : single;
    return closing
        .transform(
            v -> Future.fromCompletionStage(client.shutdownAsync(), vertx.getOrCreateContext()))
        .mapEmpty();
  }

  /** Redis has not been reached since startup. */
  public static final class RedisUnavailableException extends PersistenceException {
    public RedisUnavailableException(String message) {
      super(message);
    }
  }
}
