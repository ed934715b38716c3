package io.orderpush.delivery.cluster;

import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.Collection;
import java.util.Map;
import java.util.UUID;

/**
 * The WebSocket connections of each app on every node: one Redis hash per app (tagged by the app),
 * field the connection id, value the lease token of the node it is open on. Entries of a node that
 * died go with its token: readers skip tokens that are not live and remove them.
 */
public final class GroupRegistry {

  private final Context context;
  private final RedisStore redis;
  private final ClusterSettings settings;

  public GroupRegistry(Context context, RedisStore redis, ClusterSettings settings) {
    this.context = context;
    this.redis = redis;
    this.settings = settings;
  }

  public Future<Void> register(UUID appId, Map<String, String> connections) {
    if (connections.isEmpty()) {
      return Future.succeededFuture();
    }
    return redis.call(context, c -> c.hset(settings.groupKey(appId), connections)).mapEmpty();
  }

  public Future<Void> unregister(UUID appId, Collection<String> connectionIds) {
    if (connectionIds.isEmpty()) {
      return Future.succeededFuture();
    }
    return redis
        .call(context, c -> c.hdel(settings.groupKey(appId), connectionIds.toArray(String[]::new)))
        .mapEmpty();
  }

  /** Removes the app's registry (a deleted app); answers whether there was one. */
  public Future<Boolean> forget(UUID appId) {
    return redis.call(context, c -> c.unlink(settings.groupKey(appId))).map(n -> n > 0);
  }

  /** Connection id to the token of its node, for every node. */
  public Future<Map<String, String>> members(UUID appId) {
    return redis.call(context, c -> c.hgetall(settings.groupKey(appId)));
  }
}
