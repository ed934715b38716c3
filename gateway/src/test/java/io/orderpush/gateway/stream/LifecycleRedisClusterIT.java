package io.orderpush.gateway.stream;

import io.orderpush.persistence.testing.TestServices;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/**
 * {@link LifecycleClusterIT} on a Redis Cluster: the change notices go over sharded pub/sub ({@code
 * SPUBLISH}/{@code SSUBSCRIBE}), the cursors are spread over the cluster's shards.
 */
class LifecycleRedisClusterIT extends LifecycleClusterIT {

  /** Replaces {@link LifecycleClusterIT#start}: the nodes get the cluster instead. */
  @Override
  @BeforeAll
  void start() throws Exception {
    startNodes(
        Map.of(
            "GATEWAY_REDIS_CLUSTER", "true", "GATEWAY_REDIS_URL", TestServices.redisClusterUrl()),
        TestServices.redisCluster(),
        "lifecycle-redis-cluster-b.log");
  }
}
