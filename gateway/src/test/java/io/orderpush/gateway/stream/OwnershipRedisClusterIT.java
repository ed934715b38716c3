package io.orderpush.gateway.stream;

import io.orderpush.persistence.redis.RedisSettings;
import io.orderpush.persistence.testing.TestServices;
import java.util.Map;

/**
 * {@link OwnershipClusterIT} on a Redis Cluster (the 3 masters {@code scripts/services.sh} starts
 * with {@code GATEWAY_REDIS_CLUSTER=true}): the node set and every channel's hash in their own
 * slots, the claims and releases routed by slot, the notices over sharded pub/sub. The cut-off test
 * needs one Redis behind one proxy and runs on the single Redis only.
 */
class OwnershipRedisClusterIT extends OwnershipClusterIT {

  @Override
  Map<String, String> redisEnv() {
    return Map.of(
        "GATEWAY_REDIS_CLUSTER", "true", "GATEWAY_REDIS_URL", TestServices.redisClusterUrl());
  }

  @Override
  RedisSettings redis() {
    return TestServices.redisCluster();
  }
}
