package io.orderpush.persistence.redis;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.orderpush.persistence.PersistenceException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * One shared Lettuce connection (Lettuce multiplexes commands over it), used through the async API
 * only and bridged to Vert.x futures so no event loop ever blocks on Redis.
 */
public final class RedisStore {

  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;

  private RedisStore(RedisClient client, StatefulRedisConnection<String, String> connection) {
    this.client = client;
    this.connection = connection;
  }

  public static Future<RedisStore> connect(Vertx vertx, RedisSettings settings) {
    RedisURI uri = RedisURI.create(settings.url());
    uri.setTimeout(settings.commandTimeout());
    RedisClient client = RedisClient.create(uri);
    client.setOptions(
        ClientOptions.builder()
            .timeoutOptions(TimeoutOptions.enabled(settings.commandTimeout()))
            // While Redis is away, fail commands at once instead of queueing them without bound.
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
            .build());
    return Future.fromCompletionStage(client.connectAsync(StringCodec.UTF8, uri), vertx.getOrCreateContext())
        .<RedisStore>map(conn -> new RedisStore(client, conn))
        .recover(
            err -> {
              client.shutdownAsync();
              return Future.failedFuture(
                  new PersistenceException("cannot connect to Redis at " + settings.redacted(), err));
            });
  }

  public RedisAsyncCommands<String, String> async() {
    return connection.async();
  }

  /** PING, completing on the caller's context. */
  public Future<Void> ping(Vertx vertx) {
    return Future.fromCompletionStage(async().ping(), vertx.getOrCreateContext()).mapEmpty();
  }

  public Future<Void> close(Vertx vertx) {
    return Future.fromCompletionStage(connection.closeAsync(), vertx.getOrCreateContext())
        .compose(v -> Future.fromCompletionStage(client.shutdownAsync(), vertx.getOrCreateContext()))
        .mapEmpty();
  }
}
