package io.orderpush.delivery.cluster;

import java.time.Duration;

/**
 * How this node takes part in channel ownership.
 *
 * @param name the cluster's name: nodes with the same name (and the same Redis) share channels; it
 *     names the Redis keys of the node set and the ownership notice channel
 * @param nodeId this node's name
 * @param lease the promise to the others: a node that dies has its channels taken over within this
 *     time. Its heartbeat stays valid in Redis for {@link #ttl} (85% of it), so the rest is left
 *     for the live nodes' claims
 */
public record ClusterSettings(String name, String nodeId, Duration lease) {

  /** Renewals per lease: at 1/4, 2/4, ...; one may fail and the lease still holds. */
  static final int RENEWALS_PER_LEASE = 4;

  /** How often the heartbeat is renewed. */
  public Duration renewEvery() {
    return lease.dividedBy(RENEWALS_PER_LEASE);
  }

  /**
   * How long a heartbeat stays valid in Redis: 85% of the lease. A node killed right after a
   * renewal is dead for the others after this, and the remaining 15% (1.5 s at the default 10 s) is
   * for their claims of its channels.
   */
  public Duration ttl() {
    return lease.multipliedBy(85).dividedBy(100);
  }

  /**
   * How long before its heartbeat could expire in Redis this node stops delivering on its own: a
   * fifth of the lease (so at 65% of the lease after the last renewal was sent). It covers
   * clock-rate differences and timers that fire late.
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
