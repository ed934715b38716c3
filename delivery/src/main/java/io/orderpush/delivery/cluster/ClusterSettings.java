package io.orderpush.delivery.cluster;

import java.time.Duration;

/**
 * How this node takes part in channel ownership.
 *
 * @param name the cluster's name: nodes with the same name (and the same Redis) share channels; it
 *     names the Redis keys of the node set and the ownership notice channel
 * @param nodeId this node's name
 * @param lease how long a node's heartbeat stays valid in Redis: a node that stops renewing is dead
 *     for the others after this, and its channels are taken over
 */
public record ClusterSettings(String name, String nodeId, Duration lease) {

  /** Renewals per lease: two may fail and the lease still holds. */
  static final int RENEWALS_PER_LEASE = 3;

  /** How often the heartbeat is renewed. */
  public Duration renewEvery() {
    return lease.dividedBy(RENEWALS_PER_LEASE);
  }

  /**
   * How long before the lease could expire in Redis this node stops delivering on its own: a fifth
   * of the lease. It covers clock-rate differences and timers that fire late.
   */
  public Duration margin() {
    return lease.dividedBy(5);
  }

  /** The sorted set of live nodes: one key, one slot, written only by heartbeats. */
  public String nodesKey() {
    return "gw:nodes:{" + name + "}";
  }

  /** The pub/sub channel of ownership notices (nodes and consumer groups changed). */
  public String noticeChannel() {
    return "gw:own:" + name;
  }

  /** The hash of an app's WebSocket connections on every node, tagged by the app. */
  public String groupKey(java.util.UUID appId) {
    return "gw:grp:" + name + ":{" + appId + "}";
  }
}
