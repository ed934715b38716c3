package io.orderpush.delivery.cluster;

import io.lettuce.core.ScriptOutputType;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.persistence.redis.RedisScript;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's lease: a heartbeat in one Redis sorted set of the cluster's live nodes (member: this
 * incarnation's token, score: when it expires, in Redis's clock), renewed every lease/4, one
 * command per renewal whatever the number of channels. Each renewal also answers the set of live
 * nodes, which is this node's view of the cluster.
 *
 * <p>A token is {@code nodeId/joinedAtMs/random}: an incarnation. Once it has expired it is never
 * renewed again (a late renewal is refused and the node joins again under a new token), so a
 * channel held by an expired token can be taken over safely. Locally the node keeps a deadline, the
 * send time of its last successful renewal plus the lease minus a margin: past it, before Redis can
 * expire the token, the node stops delivering everything ({@link Listener#lost}). The cursor epochs
 * fence it anyway should it be paused past that (a GC pause, a stopped VM).
 *
 * <p>Confined to its context (the delivery engine's); {@link #valid()} and {@link #token()} may be
 * read from anywhere.
 */
public final class NodeLease {

  private static final Logger LOG = LoggerFactory.getLogger(NodeLease.class);

  /** What a claimant may assume of a channel's holder. */
  public enum Liveness {
    /** Holds its lease (as of the last view): wait for it to release. */
    ALIVE,
    /** Expired or left: its channels may be taken over. */
    DEAD,
    /** Joined after the last view was taken: refresh the view first. */
    UNKNOWN
  }

  /** Told on the lease's context. */
  public interface Listener {
    /** The lease is gone: stop delivering everything at once. */
    default void lost() {}

    /** A lease is held again (a new token): claim what is assigned here. */
    default void gained() {}

    /** The set of live nodes changed. */
    default void viewChanged() {}
  }

  // KEYS[1] the node set. ARGV[1] 'join', 'renew' or 'leave'; ARGV[2] the node id (join) or the
  // token; ARGV[3] a random suffix (join); ARGV[4] the lease in ms.
  // Returns {now, token or '' (renewal refused, or left), member, expiry, member, expiry, ...}.
  private static final RedisScript BEAT =
      new RedisScript(
          "local t = redis.call('TIME') "
              + "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
              + "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
              + "local token = '' "
              + "if ARGV[1] == 'join' then "
              + "  token = ARGV[2] .. '/' .. now .. '/' .. ARGV[3] "
              + "  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), token) "
              + "elseif ARGV[1] == 'renew' then "
              + "  if redis.call('ZSCORE', KEYS[1], ARGV[2]) then "
              + "    token = ARGV[2] "
              + "    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[4]), token) "
              + "  end "
              + "else redis.call('ZREM', KEYS[1], ARGV[2]) end "
              + "local r = {now, token} "
              + "local m = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES') "
              + "for i = 1, #m do r[#r + 1] = m[i] end "
              + "return r");

  /** The live nodes at Redis time {@code now}: tokens and their expiry (Redis ms). */
  record View(long now, Map<String, Long> expiries) {
    static final View NONE = new View(Long.MIN_VALUE, Map.of());
  }

  private final Context context;
  private final RedisStore redis;
  private final ClusterSettings settings;
  private final ClusterNotices notices;
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final Counter lostCount;
  private volatile String token;
  private volatile long deadlineNanos;
  private volatile View view = View.NONE;
  private Future<Void> beating;
  private long renewTimer = -1;
  private long deadlineTimer = -1;
  private long expiryTimer = -1;
  private boolean closed;
  private boolean failing;
  private volatile int liveNodes;

  public NodeLease(
      Context context,
      RedisStore redis,
      ClusterSettings settings,
      ClusterNotices notices,
      MeterRegistry registry) {
    this.context = context;
    this.redis = redis;
    this.settings = settings;
    this.notices = notices;
    lostCount =
        Counter.builder("gateway.cluster.lease.lost")
            .description(
                "Times this node lost its lease (could not renew it in time) and stopped delivering")
            .register(registry);
    Gauge.builder("gateway.cluster.lease.held", () -> valid() ? 1 : 0)
        .description("1 while this node holds its lease and may deliver, else 0")
        .register(registry);
    Gauge.builder("gateway.cluster.nodes", () -> liveNodes)
        .description("Live gateway nodes in this node's last view of the cluster (itself included)")
        .register(registry);
    notices.onNotice(
        n -> {
          if (ClusterNotices.NODES.equals(n.type())) {
            refresh();
          }
        });
  }

  public ClusterSettings settings() {
    return settings;
  }

  public void listen(Listener l) {
    listeners.add(l);
  }

  /**
   * Joins the cluster; completes after the first attempt (joining goes on in the background while
   * Redis cannot be reached). Context only.
   */
  public Future<Void> start() {
    long every = settings.renewEvery().toMillis();
    renewTimer = context.owner().setPeriodic(every, every, id -> beat());
    return beat().otherwiseEmpty();
  }

  /** This incarnation's token, or null while no lease is held. Any thread. */
  public String token() {
    return token;
  }

  /** Whether this node may deliver now: it holds a lease and its local deadline has not passed. */
  public boolean valid() {
    return token != null && System.nanoTime() - deadlineNanos < 0;
  }

  /**
   * Checks the deadline now (a timer may fire late after a pause): past it, the lease is lost
   * before this returns. Context only.
   */
  public boolean check() {
    if (token != null && System.nanoTime() - deadlineNanos >= 0) {
      lose("its deadline passed before a renewal succeeded");
    }
    return valid();
  }

  /** The distinct node ids of the live nodes (this one included while it holds a lease). */
  public java.util.SortedSet<String> nodeIds() {
    TreeSet<String> ids = new TreeSet<>();
    view.expiries().keySet().forEach(t -> ids.add(nodeIdOf(t)));
    if (token != null) {
      ids.add(settings.nodeId());
    }
    if (ids.isEmpty()) {
      ids.add(settings.nodeId()); // alone until the first view: everything is ours to wait for
    }
    return ids;
  }

  /** Whether other live nodes are in the last view. Any thread. */
  public boolean alone() {
    String mine = token;
    for (String t : view.expiries().keySet()) {
      if (!t.equals(mine)) {
        return false;
      }
    }
    return true;
  }

  /** Whether a token names a live incarnation. Context only. */
  public boolean live(String holder) {
    return liveness(holder) == Liveness.ALIVE;
  }

  /** What may be assumed of the incarnation {@code holder}. Context only. */
  public Liveness liveness(String holder) {
    String mine = token;
    if (holder.equals(mine)) {
      return Liveness.ALIVE;
    }
    if (view.expiries().containsKey(holder)) {
      return Liveness.ALIVE;
    }
    long joined = joinedAt(holder);
    return joined < view.now() ? Liveness.DEAD : Liveness.UNKNOWN;
  }

  /** The node id a token belongs to. */
  public static String nodeIdOf(String token) {
    int slash = token.indexOf('/');
    return slash < 0 ? token : token.substring(0, slash);
  }

  /** Redis ms when the token joined; Long.MIN_VALUE for something that is not a token. */
  static long joinedAt(String token) {
    String[] parts = token.split("/");
    if (parts.length != 3) {
      return Long.MIN_VALUE;
    }
    try {
      return Long.parseLong(parts[1]);
    } catch (NumberFormatException e) {
      return Long.MIN_VALUE;
    }
  }

  /** Renews (or joins) now and reads the view; calls made meanwhile share one. Context only. */
  public Future<Void> refresh() {
    return beat();
  }

  private Future<Void> beat() {
    if (beating != null) {
      return beating;
    }
    if (closed) {
      return Future.succeededFuture();
    }
    String current = token;
    boolean join = current == null;
    long sent = System.nanoTime();
    Promise<Void> done = Promise.promise();
    beating = done.future();
    BEAT.<List<Object>>run(
            redis,
            context,
            ScriptOutputType.MULTI,
            new String[] {settings.nodesKey()},
            join ? "join" : "renew",
            join ? settings.nodeId() : current,
            UUID.randomUUID().toString().substring(0, 8),
            Long.toString(settings.ttl().toMillis()))
        .onComplete(
            ar -> {
              beating = null;
              if (ar.failed()) {
                if (!failing) {
                  failing = true;
                  LOG.warn(
                      "renewing this node's lease failed ({}); it stops delivering if no renewal"
                          + " succeeds in time",
                      ar.cause().toString());
                }
                done.fail(ar.cause());
                return;
              }
              if (failing) {
                failing = false;
                LOG.info("renewing this node's lease works again");
              }
              applied(ar.result(), join, current, sent);
              done.complete();
            });
    return done.future();
  }

  private void applied(List<Object> r, boolean join, String sentWith, long sentNanos) {
    long now = ((Number) r.get(0)).longValue();
    String answered = String.valueOf(r.get(1));
    Map<String, Long> expiries = new HashMap<>();
    for (int i = 2; i + 1 < r.size(); i += 2) {
      expiries.put(
          String.valueOf(r.get(i)), (long) Double.parseDouble(String.valueOf(r.get(i + 1))));
    }
    View before = view;
    view = new View(now, expiries);
    if (closed) {
      return;
    }
    if (join) {
      if (token == null && !answered.isEmpty()) {
        extend(sentNanos);
        token = answered;
        LOG.info("joined the cluster as {} ({} live nodes)", answered, nodeIds().size());
        listeners.forEach(Listener::gained);
        notices.publish(ClusterNotices.NODES, null);
      }
    } else if (sentWith.equals(token)) {
      if (answered.isEmpty()) {
        lose("Redis no longer had it (expired, or lost in a failover)");
      } else {
        extend(sentNanos);
      }
    }
    liveNodes = nodeIds().size();
    if (!before.expiries().keySet().equals(expiries.keySet())) {
      listeners.forEach(Listener::viewChanged);
    }
    watchExpiries(now, expiries);
  }

  private void extend(long sentNanos) {
    long deadline = sentNanos + settings.ttl().minus(settings.margin()).toNanos();
    if (deadline - System.nanoTime() <= 0) {
      return; // answered too late to count
    }
    deadlineNanos = deadline;
    context.owner().cancelTimer(deadlineTimer);
    long ms = Math.max(1, (deadline - System.nanoTime()) / 1_000_000 + 1);
    deadlineTimer = context.owner().setTimer(ms, id -> check());
  }

  /** Looks again right after the next other node's token would expire: takeover at once. */
  private void watchExpiries(long now, Map<String, Long> expiries) {
    long next = Long.MAX_VALUE;
    for (Map.Entry<String, Long> e : expiries.entrySet()) {
      if (!e.getKey().equals(token)) {
        next = Math.min(next, e.getValue());
      }
    }
    context.owner().cancelTimer(expiryTimer);
    if (next != Long.MAX_VALUE && next - now < settings.renewEvery().toMillis()) {
      expiryTimer = context.owner().setTimer(Math.max(1, next - now + 5), id -> refresh());
    }
  }

  private void lose(String why) {
    String was = token;
    if (was == null) {
      return;
    }
    token = null;
    lostCount.increment();
    LOG.error("lost this node's lease {}: {}; delivery stopped until it joins again", was, why);
    listeners.forEach(Listener::lost);
    // Everything here has stopped: join again under a new token as soon as Redis answers (a beat
    // in flight is waited for; the periodic one retries after a failure).
    context.runOnContext(v -> beat());
  }

  /**
   * Leaves the cluster (graceful stop): the token is removed, so the others take this node's
   * channels over at once. Call after everything here has been released. Context only.
   */
  public Future<Void> leave() {
    closed = true;
    context.owner().cancelTimer(renewTimer);
    context.owner().cancelTimer(deadlineTimer);
    context.owner().cancelTimer(expiryTimer);
    String was = token;
    token = null;
    if (was == null) {
      return Future.succeededFuture();
    }
    return BEAT.<List<Object>>run(
            redis,
            context,
            ScriptOutputType.MULTI,
            new String[] {settings.nodesKey()},
            "leave",
            was,
            "",
            "0")
        .compose(r -> notices.publish(ClusterNotices.NODES, null))
        .<Void>mapEmpty()
        .otherwiseEmpty();
  }
}
