package io.orderpush.delivery.channel;

import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.cluster.CommitFrames;
import io.orderpush.delivery.cursor.CommitOutcome;
import io.orderpush.delivery.cursor.CursorCommits;
import io.orderpush.delivery.cursor.CursorStore;
import io.orderpush.persistence.events.EventLog;
import io.orderpush.persistence.events.EventTypes;
import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves events from the log to subscribers, channel by channel, in seq order. One engine serves
 * both transports. All channel state is confined to the engine's context; callers on other threads
 * go through {@link #context()}.
 *
 * <p>Nothing runs for an idle channel but its merchant's share of the periodic reconcile (one
 * primary-key read of its head per sweep, {@link #reconcile}): a channel is read only when it was
 * just claimed, when a commit advanced its merchant's head ({@link #committed}), when an ack opened
 * its window, or when its subscriber became writable again. A channel that is behind is read in
 * pages of up to {@code maxBatch} events; each subscriber has a bounded number of reads in flight,
 * so memory per subscriber is bounded however many channels it owns.
 */
public final class DeliveryEngine {

  private static final Logger LOG = LoggerFactory.getLogger(DeliveryEngine.class);
  static final long RETRY_MS = 1000;
  static final long LAG_SAMPLE_MS = 5000;

  private final Vertx vertx;
  private final Context context;
  private final Pool pool;
  private final EventLog log;
  private final CursorStore cursors;

  /** Acks' cursor commits, coalesced per run of the engine's task queue. */
  private final CursorCommits commits;

  private final Map<String, Set<Channel>> byMerchant = new HashMap<>();

  /**
   * The scheduling state of each subscriber that owns channels here or has reads in flight; gone
   * with its last channel, so a subscriber that went away leaves nothing behind.
   */
  private final Map<Subscriber, Lane> lanes = new java.util.IdentityHashMap<>();

  /** One subscriber's ready queues and reads in flight. Engine context only. */
  private static final class Lane {
    /** Channels assigned to the subscriber. */
    int owned;

    /** Channels with a batch to send again ({@link #resend}): read before {@link #ready}. */
    final java.util.ArrayDeque<Channel> resends = new java.util.ArrayDeque<>();

    final java.util.ArrayDeque<Channel> ready = new java.util.ArrayDeque<>();

    /**
     * Ready channels of drills' sandbox merchants: served only when no real channel is ready, so an
     * app's real merchants keep their latency while a drill floods it.
     */
    final java.util.ArrayDeque<Channel> readySandbox = new java.util.ArrayDeque<>();

    int reading;

    /**
     * A {@link #drive} of this lane is on the stack. A read served from the tail cache completes at
     * once, and its handler drives again: that nested call returns, and the loop below it takes the
     * next channel. Nested, the stack grew a level for every channel served from the cache in one
     * pass (thousands once a connection's write queue drained) until it overflowed.
     */
    boolean driving;

    boolean waiting() {
      return !(resends.isEmpty() && ready.isEmpty() && readySandbox.isEmpty());
    }

    /** Batches to send again first, then real channels, then sandbox ones. */
    Channel next() {
      return !resends.isEmpty()
          ? resends.poll()
          : !ready.isEmpty() ? ready.poll() : readySandbox.poll();
    }

    /** No channels and nothing in flight: whatever is queued is left from channels let go. */
    boolean unused() {
      return owned == 0 && reading == 0;
    }
  }

  private final AtomicLong channelCount = new AtomicLong();
  private final AtomicLong assignedCount = new AtomicLong();
  private final DeliveryMetrics metrics;
  private final CheckpointStore checkpoints;
  private final TailCache tail;
  private final DeliverySettings settings;

  /** Channels whose cursor moved since the last checkpoint. */
  private Set<Channel> dirty = new HashSet<>();

  /** The checkpoint write in flight, or the last one: writes never overlap. */
  private Future<Void> saving = Future.succeededFuture();

  /**
   * The latest rewind of each channel (app/merchant) whose checkpoint is not written yet: a rewind
   * stored in Redis whose write failed is written again with every checkpoint until it lands, so
   * PostgreSQL's copy never stays above what Redis holds (losing Redis then would skip the events
   * the app asked for again). Engine context.
   */
  private final Map<String, CheckpointStore.Checkpoint> rewinds = new HashMap<>();

  /**
   * Rewinds written, to be written once more when the time here (nanos) has passed: a checkpoint
   * write of the cursor from before the rewind may still be in flight on another node (issued
   * before it heard of the rewind), and its forward-only write would land over the rewind.
   */
  private final Map<String, Reassert> reasserts = new HashMap<>();

  private record Reassert(CheckpointStore.Checkpoint row, long dueNanos) {}

  /** Keys of {@link #rewinds} that are reasserts: written only while Redis holds the channel. */
  private final Set<String> reasserting = new HashSet<>();

  /**
   * (app/merchant) keys whose moves {@link #forgetMoves} dropped while a checkpoint round was in
   * flight: a round that fails does not put their channels back. Cleared as a round starts.
   */
  private final Set<String> forgottenDuringRound = new HashSet<>();

  /** rewinds.size(), for the gauge. */
  private volatile int rewindsPending;

  /** Where the batches that leave this node are recorded (the audit trail). */
  private io.orderpush.delivery.audit.DeliveryAudit audit =
      io.orderpush.delivery.audit.DeliveryAudit.NONE;

  /** Told of the acks of apps under a drill; see {@link DeliveryProbe}. */
  private DeliveryProbe probe = DeliveryProbe.NONE;

  /** This node's lease; null: a node alone, which holds every channel it claims. */
  private io.orderpush.delivery.cluster.NodeLease lease;

  static final String ALONE = "local";

  /** Claims sent to Redis at once at most; the rest wait in {@link #claimQueue}. */
  static final int MAX_CLAIMS_IN_FLIGHT = 256;

  private int claimsInFlight;

  /**
   * Channels waiting for a claim, in order, each with the generation it waits for: a channel
   * assigned again while it waits keeps its place with the new generation, and a channel the engine
   * forgets leaves the queue, so it holds at most one entry per channel known here (with Redis
   * slow, reconnecting consumers had every channel queued again and again). Engine context; its
   * size is published for the gauge.
   */
  private final java.util.LinkedHashMap<Channel, Integer> claimQueue =
      new java.util.LinkedHashMap<>();

  private volatile int claimsQueued;
  static final long MAX_WAIT_MS = 2000;

  private volatile long lag;
  private long lagTimer = -1;
  private long checkpointTimer = -1;
  private long reconcileTimer = -1;
  private boolean reconciling;

  /** Merchants the current sweep of {@link #reconcile} has still to read; refilled when empty. */
  private final java.util.ArrayDeque<String> sweep = new java.util.ArrayDeque<>();

  public DeliveryEngine(
      Vertx vertx,
      Pool pool,
      EventLog log,
      CursorStore cursors,
      CheckpointStore checkpoints,
      DeliverySettings settings,
      MeterRegistry registry) {
    this.vertx = vertx;
    this.settings = settings;
    this.tail = new TailCache(TailCache.PER_MERCHANT, settings.tailCacheBytes());
    this.context = vertx.getOrCreateContext();
    this.pool = pool;
    this.log = log;
    this.cursors = cursors;
    this.commits = new CursorCommits(cursors, context, registry);
    this.checkpoints = checkpoints;
    this.metrics = new DeliveryMetrics(registry, channelCount::get, assignedCount::get, () -> lag);
    io.micrometer.core.instrument.FunctionCounter.builder(
            "gateway.delivery.grant.reads.superseded", grantReads, GrantReads::superseded)
        .description(
            "What a read of grants said of a channel, not applied: a read that started later (a"
                + " revoke, a grant) had been applied already")
        .register(registry);
    io.micrometer.core.instrument.Gauge.builder(
            "gateway.delivery.rewinds.pending", () -> rewindsPending)
        .description(
            "Cursors set through the API whose PostgreSQL checkpoint is still to be written")
        .register(registry);
    io.micrometer.core.instrument.Gauge.builder(
            "gateway.delivery.claims.queued", () -> claimsQueued)
        .description(
            "Channels waiting for their claim in Redis while the most claims at once are in flight")
        .register(registry);
    metrics.tailCache(registry, tail);
    // One timer each for the whole node, not one per channel.
    context.runOnContext(
        v -> {
          lagTimer =
              vertx.setPeriodic(
                  LAG_SAMPLE_MS,
                  id -> {
                    // one pass over every channel for both (100,000 channels: 15% of a node's
                    // samples went to these scans when they were two)
                    long[] sum = new long[1];
                    metrics.sampled(classify(sum));
                    lag = sum[0];
                  });
          checkpointTimer =
              vertx.setPeriodic(settings.checkpointInterval().toMillis(), id -> checkpoint());
          reconcileTimer =
              vertx.setPeriodic(settings.reconcileInterval().toMillis(), id -> reconcile());
        });
  }

  /**
   * Writes the cursors that moved since the last checkpoint to PostgreSQL, in one statement. If
   * Redis loses them, delivery restarts from these: redelivery bounded by the interval, never a
   * cursor past what was acked. Engine context only.
   */
  Future<Void> checkpoint() {
    if (!reasserts.isEmpty() && saving.isComplete()) {
      long now = System.nanoTime();
      reasserts
          .entrySet()
          .removeIf(
              e -> {
                if (now - e.getValue().dueNanos() < 0) {
                  return false;
                }
                // written with the cursor Redis holds now (forceRewinds), like a failed rewind
                if (rewinds.putIfAbsent(e.getKey(), e.getValue().row()) == null) {
                  reasserting.add(e.getKey());
                }
                return true;
              });
      rewindsPending = rewinds.size();
    }
    if ((dirty.isEmpty() && rewinds.isEmpty()) || !saving.isComplete()) {
      return saving; // one write at a time: the next tick takes what moved meanwhile
    }
    // first the rewinds whose write failed, as Redis holds them now; then what moved forward since
    Future<Void> forced = rewinds.isEmpty() ? Future.succeededFuture() : forceRewinds();
    Set<Channel> batch = dirty;
    dirty = new HashSet<>();
    forgottenDuringRound.clear();
    // A channel that went away and came back (a WebSocket app reconnecting) is two Channel
    // objects: one row per (app, merchant), or the statement fails on the repeated key. The newer
    // grant wins, then the higher cursor (both only ever move forward).
    Map<String, CheckpointStore.Checkpoint> byKey = new HashMap<>();
    for (Channel c : batch) {
      CheckpointStore.Checkpoint row =
          new CheckpointStore.Checkpoint(c.appId, c.merchantId, c.cursor, c.grantVersion);
      byKey.merge(
          c.appId + "/" + c.merchantId,
          row,
          (a, b) ->
              a.grantVersion() != b.grantVersion()
                  ? (a.grantVersion() > b.grantVersion() ? a : b)
                  : (a.cursor() >= b.cursor() ? a : b));
    }
    List<CheckpointStore.Checkpoint> rows = new ArrayList<>(byKey.values());
    saving =
        forced
            .transform(x -> checkpoints.save(rows))
            .onFailure(
                err -> {
                  metrics.checkpointFailures.increment();
                  LOG.warn(
                      "writing {} cursor checkpoints failed, retrying with the next: {}",
                      rows.size(),
                      err.toString());
                  // not those whose cursor was set through the API meanwhile: their moves are older
                  batch.removeIf(c -> forgottenDuringRound.contains(c.appId + "/" + c.merchantId));
                  dirty.addAll(batch);
                })
            .otherwiseEmpty();
    return saving;
  }

  /**
   * Writes the rewinds whose checkpoint failed, each with the cursor Redis holds now, not the one
   * asked for: another node may have set the channel's cursor since (its own write landed), and
   * acks may have moved it on; what Redis holds is never below what must be delivered again.
   */
  private Future<Void> forceRewinds() {
    Map<String, CheckpointStore.Checkpoint> due = new HashMap<>(rewinds);
    List<Future<CheckpointStore.Checkpoint>> now = new ArrayList<>(due.size());
    due.forEach(
        (key, asked) -> {
          boolean reassert = reasserting.contains(key);
          now.add(
              cursors
                  .cursors(context, asked.appId(), List.of(asked.merchantId()))
                  .map(
                      held ->
                          held.get(0) < 0 && reassert
                              // Redis lost the channel: it starts from the checkpoint, leave it
                              ? null
                              : new CheckpointStore.Checkpoint(
                                  asked.appId(),
                                  asked.merchantId(),
                                  // none in Redis (it lost its data): the cursor asked for
                                  held.get(0) >= 0 ? held.get(0) : asked.cursor(),
                                  asked.grantVersion())));
        });
    return Future.all(now)
        .compose(
            v ->
                checkpoints.force(
                    now.stream().map(Future::result).filter(java.util.Objects::nonNull).toList()))
        .onSuccess(
            v -> {
              // only the entries written: a rewind made since replaced its channel's entry
              due.forEach(
                  (key, row) -> {
                    if (rewinds.get(key) == row) {
                      rewinds.remove(key);
                      reasserting.remove(key);
                    }
                  });
              rewindsPending = rewinds.size();
            })
        .onFailure(
            err -> {
              metrics.checkpointFailures.increment();
              LOG.warn(
                  "writing {} rewound cursor checkpoint(s) failed, retrying with the next: {}",
                  due.size(),
                  err.toString());
            })
        .otherwiseEmpty();
  }

  /** Stops the engine's timers and writes a last checkpoint. Any thread. */
  public Future<Void> close() {
    Promise<Void> done = Promise.promise();
    context.runOnContext(
        v -> {
          vertx.cancelTimer(lagTimer);
          vertx.cancelTimer(checkpointTimer);
          vertx.cancelTimer(reconcileTimer);
          vertx.cancelTimer(auditWait);
          // After any write in flight, the cursors that moved since.
          saving.transform(x -> checkpoint()).onComplete(ar -> done.complete());
        });
    return done.future();
  }

  /**
   * The backstop for missed wake-ups: the stored heads of the merchants with channels here, at most
   * {@link DeliverySettings#reconcileBatch} of them a round, taken in turn, and a wake-up for every
   * channel that has not seen its merchant's head. A channel normally learns of new events from
   * {@link #committed} or another node's notice; this catches what those cannot: a commit whose
   * answer was lost (the retry comes back as a duplicate), or a notice lost between nodes. One
   * primary-key lookup per merchant, whatever the ingest rate; the heads are applied a grace later
   * ({@link #reconcileGraceMs}). Engine context only.
   */
  Future<Void> reconcile() {
    if (reconciling || byMerchant.isEmpty()) {
      return Future.succeededFuture();
    }
    if (sweep.isEmpty()) {
      sweep.addAll(byMerchant.keySet());
    }
    List<String> batch = new ArrayList<>(Math.min(sweep.size(), settings.reconcileBatch()));
    while (batch.size() < settings.reconcileBatch() && !sweep.isEmpty()) {
      String m = sweep.poll();
      // channels of other nodes' merchants are known here too (every node adds every grant's)
      if (ownsAChannelOf(m)) {
        batch.add(m);
      }
    }
    if (batch.isEmpty()) {
      return Future.succeededFuture();
    }
    reconciling = true;
    return log.heads(pool, batch)
        .<Void>compose(
            heads -> {
              // A head read here may belong to a commit whose news is still on its way to this
              // engine (the committer's answer, another node's notice or frame): applied at once,
              // the reconcile would wake thousands of channels a few milliseconds early under load
              // and read them from the log instead of the tail cache. Heads are applied after a
              // grace; what is still unseen then was missed.
              Promise<Void> applied = Promise.promise();
              vertx.setTimer(
                  reconcileGraceMs(),
                  id -> {
                    // one merchant that throws costs its own wake-up, not the round's others
                    heads.forEach(
                        (merchant, head) -> {
                          try {
                            headSeen(merchant, head);
                          } catch (RuntimeException e) {
                            metrics.reconcileFailures.increment();
                            LOG.warn(
                                "reconciling the head of {} failed: {}", merchant, e.toString());
                          }
                        });
                    applied.complete();
                  });
              return applied.future();
            })
        .onFailure(
            err -> {
              metrics.reconcileFailures.increment();
              LOG.warn("reconciling heads failed, trying again next round: {}", err.toString());
              // this round's merchants first next time
              for (int i = batch.size() - 1; i >= 0; i--) {
                sweep.addFirst(batch.get(i));
              }
            })
        .onComplete(ar -> reconciling = false);
  }

  /** How long a reconcile round waits before it applies the heads it read: 1 s, or its interval. */
  private long reconcileGraceMs() {
    return Math.min(RECONCILE_GRACE_MS, settings.reconcileInterval().toMillis());
  }

  static final long RECONCILE_GRACE_MS = 1000;

  /**
   * Another node committed these heads ({@link HeadNotices}): wake the channels here that have not
   * seen them. Any thread.
   */
  public void headsNoticed(Map<String, Long> heads) {
    context.runOnContext(v -> heads.forEach((m, head) -> headSeen(m, head, false)));
  }

  /** The merchant's head is at least {@code head}: wake the channels that have not seen it. */
  private void headSeen(String merchantId, long head) {
    headSeen(merchantId, head, true);
  }

  private void headSeen(String merchantId, long head, boolean byReconcile) {
    Set<Channel> channels = byMerchant.get(merchantId);
    if (channels == null) {
      return;
    }
    for (Channel c : channels) {
      if (c.owner != null && c.claimed && head > c.sent && c.knownHead < head) {
        if (byReconcile) {
          metrics.reconcileWoken.increment();
        }
        c.headVersion++;
        c.knownHead = head;
        wake(c);
      }
    }
  }

  /**
   * Commits of these merchants may or may not have happened (the commit's answer was lost): read
   * their channels from the log again rather than wait for the next commit. Any thread.
   */
  public void mayHaveCommitted(Set<String> merchantIds) {
    context.runOnContext(
        v -> {
          for (String m : merchantIds) {
            Set<Channel> channels = byMerchant.get(m);
            if (channels != null) {
              tail.forget(m); // the cache may miss what was committed: read from the log
              for (Channel c : channels) {
                c.headVersion++;
                c.knownHead = Long.MAX_VALUE;
                wake(c);
              }
            }
          }
        });
  }

  /**
   * Records the batches this node's transports send to {@code log}; call before delivery starts.
   */
  /** Where acks of watched apps are reported, with their commit time. Before {@link #start}. */
  public void probe(DeliveryProbe probe) {
    this.probe = probe;
  }

  /** Orders what this node learns of grants by when it was read. */
  public GrantReads grantReads() {
    return grantReads;
  }

  private final GrantReads grantReads = new GrantReads();

  /** The probe transports report their own events to (connections, callback answers). */
  public DeliveryProbe probe() {
    return probe;
  }

  public void auditTo(io.orderpush.persistence.audit.AuditLog log) {
    audit = new io.orderpush.delivery.audit.DeliveryAudit(log);
  }

  /**
   * Claims channels under this node's lease from now on: a claim names the lease's token, another
   * node's live claim is waited for, a dead one taken over; when the lease is lost every channel
   * stops at once, and is claimed again once a lease is held again. Call before delivery starts.
   */
  public void useLease(io.orderpush.delivery.cluster.NodeLease lease) {
    this.lease = lease;
    lease.listen(
        new io.orderpush.delivery.cluster.NodeLease.Listener() {
          @Override
          public void lost() {
            leaseLost();
          }

          @Override
          public void gained() {
            leaseGained();
          }
        });
  }

  private String token() {
    return lease == null ? ALONE : lease.token();
  }

  /** Whether this node may send anything now (its lease's deadline is checked). */
  private boolean mayDeliver() {
    return lease == null || lease.check();
  }

  /** Whether the channel is {@code s}'s and this node may send on it now. */
  private boolean mayDeliver(Channel c, Subscriber s) {
    return mayDeliver() && c.owner == s && c.claimed;
  }

  /** Every channel stops here: reads and acks in flight are dropped, nothing more is sent. */
  private void leaseLost() {
    int stopped = 0;
    for (Set<Channel> set : byMerchant.values()) {
      for (Channel c : set) {
        if (c.owner != null) {
          c.generation++;
          c.claimed = false;
          c.queued = false;
          c.resend = null;
          c.node = null;
          c.takeoverFrom = null;
          stopped++;
        }
      }
    }
    metrics.leaseStops.increment(stopped);
  }

  /** A lease again: the channels that still have an owner here are claimed again. */
  private void leaseGained() {
    for (Set<Channel> set : byMerchant.values()) {
      for (Channel c : List.copyOf(set)) {
        if (c.owner != null && !c.claimed) {
          c.owner.restarted(c);
          claim(c, c.generation);
        }
      }
    }
  }

  public io.orderpush.delivery.audit.DeliveryAudit audit() {
    return audit;
  }

  public Context context() {
    return context;
  }

  public Vertx vertx() {
    return vertx;
  }

  /**
   * Wakes the channels of merchants whose head moved, keeping their new events at hand. Any thread.
   */
  public void committed(Map<String, List<LoggedEvent>> stored) {
    context.runOnContext(v -> stored.forEach(this::committed));
  }

  /**
   * Wakes the channels delivered here for the events of a commit group another node sent whole
   * ({@link CommitFrames}), keeping those events at hand; the events of merchants without a channel
   * owned here are skipped undecoded. Fails, changing nothing, on a damaged frame. Any thread.
   */
  public Future<Void> committedFrame(io.vertx.core.buffer.Buffer frame) {
    return Future.future(
        p ->
            context.runOnContext(
                v -> {
                  try {
                    CommitFrames.decode(frame, this::ownsAChannelOf)
                        .events()
                        .forEach(this::committed);
                  } catch (Throwable damagedOrFailed) {
                    // answered either way: the feed counts the frames it handed over until then
                    p.fail(damagedOrFailed);
                    return;
                  }
                  p.complete();
                }));
  }

  private boolean ownsAChannelOf(String merchant) {
    Set<Channel> channels = byMerchant.get(merchant);
    if (channels != null) {
      for (Channel c : channels) {
        if (c.claimed) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Only merchants with a channel owned here keep their events at hand: with several nodes the
   * others are delivered elsewhere, and a channel claimed later reads from the log. Engine context
   * only.
   */
  private void committed(String merchant, List<LoggedEvent> events) {
    Set<Channel> channels = byMerchant.get(merchant);
    if (channels == null) {
      return;
    }
    boolean owned = false;
    for (Channel c : channels) {
      owned |= c.claimed;
    }
    // before the wake-ups: a channel woken here may read at once
    if (owned) {
      tail.append(merchant, events);
    } else {
      tail.forget(merchant);
    }
    long head = events.get(events.size() - 1).seq();
    for (Channel c : channels) {
      c.headVersion++;
      if (c.knownHead != Long.MAX_VALUE && head > c.knownHead) {
        c.knownHead = head;
      }
      wake(c);
    }
  }

  /**
   * Lets the tail cache drop what every channel of the merchant delivered here has acked: caught-up
   * channels then keep only their unacked events at hand, which die young, instead of the last
   * seconds of every merchant, which the collector copied again and again until the old generation
   * filled (perf/README.md, "The tail cache keeps what is not acked"). Engine context only.
   */
  private void acked(Channel c) {
    long below = Long.MAX_VALUE;
    for (Channel x : byMerchant.getOrDefault(c.merchantId, Set.of())) {
      if (x.claimed) { // a claim sets the cursor
        below = Math.min(below, x.cursor);
      }
    }
    if (below != Long.MAX_VALUE) {
      tail.dropThrough(c.merchantId, below);
    }
  }

  /** Makes the channel known to head notifications. Engine context only. */
  public void add(Channel c) {
    if (byMerchant.computeIfAbsent(c.merchantId, m -> new HashSet<>()).add(c)) {
      channelCount.incrementAndGet();
    }
  }

  /** Forgets the channel, releasing it if it has an owner. Engine context only. */
  public Future<Void> remove(Channel c) {
    if (claimQueue.remove(c) != null) {
      claimsQueued = claimQueue.size();
    }
    Future<Void> released = release(c);
    Set<Channel> set = byMerchant.get(c.merchantId);
    if (set != null && set.remove(c)) {
      channelCount.decrementAndGet();
      if (set.isEmpty()) {
        byMerchant.remove(c.merchantId);
        tail.forget(c.merchantId);
      }
    }
    return released;
  }

  /**
   * Gives the channel to {@code owner}: claims it in Redis (a new epoch fences every earlier
   * owner), then delivers from the cursor + 1. Engine context only.
   */
  public void assign(Channel c, Subscriber owner) {
    if (c.owner != owner) {
      c.maxSent = 0;
    }
    drop(c, true);
    c.owner = owner;
    lanes.computeIfAbsent(owner, x -> new Lane()).owned++;
    assignedCount.incrementAndGet();
    claim(c, c.generation);
  }

  /**
   * Starts queued claims while fewer than {@link #MAX_CLAIMS_IN_FLIGHT} are in flight. Not
   * re-entered: a claim that fails at once (Redis disconnected rejects commands on the caller's
   * stack) completes inside the loop, and its handler calls here again. Nested, the stack grew a
   * level per queued claim until it overflowed, leaking in-flight slots and stranding channels.
   */
  private void drainClaims() {
    if (drainingClaims) {
      return; // the loop below takes the next claim when this one returns
    }
    drainingClaims = true;
    try {
      while (claimsInFlight < MAX_CLAIMS_IN_FLIGHT && !claimQueue.isEmpty()) {
        var next = claimQueue.entrySet().iterator();
        var waiting = next.next();
        next.remove();
        claimsQueued = claimQueue.size();
        Channel c = waiting.getKey();
        if (c.generation == waiting.getValue() && c.owner != null) {
          claim(c, c.generation);
        }
      }
    } finally {
      drainingClaims = false;
    }
  }

  private boolean drainingClaims;

  /** When a failed claim was last logged, and how many failed since without a line. */
  private long claimWarnedAt;

  private long claimFailuresUnlogged;

  /**
   * Logs a failed claim, at most one line every {@link #CLAIM_WARN_EVERY_MS} (with Redis away,
   * every channel of the node fails its claim each {@link #RETRY_MS}: a line each would flood the
   * log); the metric counts them all. Engine context.
   */
  private void claimFailed(Channel c, Throwable cause) {
    long now = System.currentTimeMillis();
    if (now - claimWarnedAt < CLAIM_WARN_EVERY_MS) {
      claimFailuresUnlogged++;
      return;
    }
    LOG.warn(
        "claiming {} failed, retrying in {} ms ({} more claims failed since the last line): {}",
        c,
        RETRY_MS,
        claimFailuresUnlogged,
        cause.toString());
    claimWarnedAt = now;
    claimFailuresUnlogged = 0;
  }

  static final long CLAIM_WARN_EVERY_MS = 5_000;

  private void claim(Channel c, int generation) {
    String node = token();
    if (node == null) {
      return; // no lease: claimed when one is held again
    }
    if (claimsInFlight >= MAX_CLAIMS_IN_FLIGHT) {
      // A burst (a big group assigned, a node's channels taken over) waits here rather than in
      // Redis's queue, where it would hold up acks and time out.
      claimQueue.put(c, generation);
      claimsQueued = claimQueue.size();
      return;
    }
    claimsInFlight++;
    // If Redis lost the channel, the cursor this node last committed is the best safe start:
    // it never exceeds what the app acked.
    long initial = c.cursorKnown ? c.cursor : c.initialCursor;
    commits.flush(); // acks handled before this claim reach Redis before it
    cursors
        .claim(
            context,
            c.appId,
            c.merchantId,
            initial,
            c.owner.id(),
            c.grantVersion,
            node,
            c.takeoverFrom)
        .onComplete(
            ar -> {
              claimsInFlight--;
              drainClaims();
              if (c.generation != generation || c.owner == null || !node.equals(token())) {
                if (ar.succeeded() && !ar.result().isRefused() && node.equals(token())) {
                  // let go meanwhile: the claim that just landed must not keep others waiting
                  letGo(c, node, ar.result().epoch(), -1L, 0);
                } else if (ar.failed() && node.equals(token())) {
                  // let go meanwhile, and the answer lost: the claim may have landed all the same
                  letGoUnsure(c, node, RETRY_MS);
                }
                return;
              }
              if (ar.failed()) {
                // retried below, which takes over a claim that landed (same node); if the channel
                // is let go first, drop() releases what may have landed
                c.unsure = true;
                metrics.claimFailures.increment();
                claimFailed(c, ar.cause());
                vertx.setTimer(
                    RETRY_MS,
                    id -> {
                      if (c.generation == generation && c.owner != null) {
                        claim(c, generation);
                      }
                    });
                return;
              }
              c.unsure = false;
              if (ar.result().isRefused()) {
                heldElsewhere(c, generation, ar.result().holder());
                return;
              }
              if (c.takeoverFrom != null) {
                metrics.takeovers.increment();
                LOG.info("took over {} from {}, a node that is gone", c, c.takeoverFrom);
              }
              long previouslySent = c.sent;
              c.node = node;
              c.takeoverFrom = null;
              c.waits = 0;
              c.epoch = ar.result().epoch();
              c.rewinds = ar.result().rewinds();
              c.cursor = ar.result().cursor();
              c.sent = c.cursor;
              c.probed = null;
              c.lastDelivered = Math.min(ar.result().prev(), c.cursor);
              if (previouslySent > c.cursor) {
                metrics.redelivered.increment(previouslySent - c.cursor);
              }
              c.claimed = true;
              c.cursorKnown = true;
              c.unackedSince = 0;
              c.knownHead = Long.MAX_VALUE;
              c.owner.claimed(c, c.cursor);
              wake(c);
            });
  }

  /**
   * Another node holds the channel: take it over if that node is gone, else try again after a
   * backoff (it lets go once it sees the channel is not its own any more).
   */
  private void heldElsewhere(Channel c, int generation, String holder) {
    var liveness =
        lease == null
            ? io.orderpush.delivery.cluster.NodeLease.Liveness.ALIVE
            : lease.liveness(holder);
    switch (liveness) {
      case DEAD -> {
        c.takeoverFrom = holder;
        claim(c, generation);
      }
      case UNKNOWN ->
          lease
              .refresh()
              .onComplete(
                  ar -> {
                    if (c.generation != generation || c.owner == null) {
                      return;
                    }
                    if (ar.succeeded()) {
                      claim(c, generation);
                    } else {
                      waitAndClaim(c, generation);
                    }
                  });
      case ALIVE -> waitAndClaim(c, generation);
    }
  }

  private void waitAndClaim(Channel c, int generation) {
    metrics.claimsWaiting.increment();
    long delay = Math.min(MAX_WAIT_MS, 50L << Math.min(c.waits++, 6));
    vertx.setTimer(
        delay,
        id -> {
          if (c.generation == generation && c.owner != null) {
            claim(c, generation);
          }
        });
  }

  /**
   * Releases this node's claim in Redis, so the node the channel is assigned to can claim it; a
   * failure is retried a few times while the lease is the same, then the future completes and the
   * release goes on being retried in the background, every {@link #RELEASE_RETRY_MAX_MS} at most,
   * while this node holds the same lease: until then the others cannot claim the channel, since its
   * holder is alive. Once the lease is lost, the others take over when it expires.
   */
  private Future<Void> letGo(Channel c, String node, long epoch, long ackedSeq, int attempt) {
    commits.flush(); // acks handled before the release are stored before another node may claim
    return cursors
        .release(context, c.appId, c.merchantId, node, epoch, ackedSeq)
        .<Void>mapEmpty()
        .recover(
            err -> {
              if (attempt < 5 && node.equals(token())) {
                Promise<Void> later = Promise.promise();
                vertx.setTimer(
                    RETRY_MS, id -> letGo(c, node, epoch, ackedSeq, attempt + 1).onComplete(later));
                return later.future();
              }
              metrics.releaseFailures.increment();
              if (!node.equals(token())) {
                LOG.warn(
                    "could not release {} in Redis ({}); other nodes take it over when this"
                        + " node's lease ends",
                    c,
                    err.toString());
                return Future.succeededFuture();
              }
              LOG.warn(
                  "could not release {} in Redis ({}); trying again in the background while this"
                      + " node keeps its lease",
                  c,
                  err.toString());
              letGoLater(c, node, epoch, ackedSeq, RETRY_MS);
              return Future.succeededFuture();
            });
  }

  /**
   * Releases a claim this node sent for the channel whose answer was lost, if Redis shows it landed
   * and nobody on this node wants the channel now: without this, a claim that landed while its
   * answer was lost (a connection reset after Redis ran the script) stayed with this live node for
   * good, and no other node could claim it. Reads the claim, then releases it by its epoch (fenced
   * as every release is), unless a release of that claim waits for its subscriber to drain (a POST
   * in flight). A failed read or release is tried again, with backoff, while this node keeps its
   * lease and nobody here took the channel up (its own claim then replaces the one that landed).
   */
  private void letGoUnsure(Channel c, String node, long delay) {
    if (wantedHere(c) || !node.equals(token())) {
      return;
    }
    cursors
        .held(context, c.appId, c.merchantId)
        .compose(
            held -> {
              if (wantedHere(c)
                  || !node.equals(token())
                  || held == null
                  || !node.equals(held.node())
                  || draining.contains(drainKey(c, held.epoch()))) {
                return Future.succeededFuture(false);
              }
              return cursors.release(context, c.appId, c.merchantId, node, held.epoch(), -1L);
            })
        .onComplete(
            ar -> {
              if (ar.succeeded()) {
                if (ar.result()) {
                  metrics.unsureClaimsReleased.increment();
                  LOG.info("released {}: a claim whose answer was lost had landed", c);
                }
                return;
              }
              vertx.setTimer(
                  spread(delay),
                  id -> letGoUnsure(c, node, Math.min(RELEASE_RETRY_MAX_MS, delay * 2)));
            });
  }

  /** Releases waiting for their subscriber to drain: "app:merchant:epoch". */
  private final Set<String> draining = new HashSet<>();

  private static String drainKey(Channel c, long epoch) {
    return c.appId + ":" + c.merchantId + ":" + epoch;
  }

  /**
   * Whether a subscriber on this node has the channel of (app, merchant) now: this object, or the
   * one that replaced it (a grant made again).
   */
  private boolean wantedHere(Channel c) {
    if (c.owner != null) {
      return true;
    }
    Set<Channel> set = byMerchant.get(c.merchantId);
    if (set != null) {
      for (Channel other : set) {
        if (other.appId.equals(c.appId) && other.owner != null) {
          return true;
        }
      }
    }
    return false;
  }

  /** Longest wait between two background attempts at a release ({@link #letGo}). */
  static final long RELEASE_RETRY_MAX_MS = 10_000;

  /**
   * A wait between half of {@code delay} and all of it, at random: the channels of a connection
   * that closed in an outage do not all try again at once.
   */
  private static long spread(long delay) {
    return delay / 2 + java.util.concurrent.ThreadLocalRandom.current().nextLong(delay / 2 + 1);
  }

  private void letGoLater(Channel c, String node, long epoch, long ackedSeq, long delay) {
    vertx.setTimer(
        spread(delay),
        id -> {
          if (!node.equals(token()) || c.claimed) {
            // the lease is gone (the others take over once it expires), or this node claimed the
            // channel again since (a newer claim than the one to release)
            return;
          }
          cursors
              .release(context, c.appId, c.merchantId, node, epoch, ackedSeq)
              .onSuccess(
                  released -> {
                    if (released) {
                      LOG.info("released {} in Redis after earlier failures", c);
                    } else {
                      LOG.debug("{} was no longer held by the claim to release", c);
                    }
                  })
              .onFailure(
                  err ->
                      letGoLater(
                          c, node, epoch, ackedSeq, Math.min(RELEASE_RETRY_MAX_MS, delay * 2)));
        });
  }

  /**
   * Retention removed events the channel's subscriber was handed and had not delivered: delivery
   * starts over from the stored cursor + 1 with what is still stored. The merchant's cached tail
   * may hold removed events too, so it goes. (A resend that found its range gone.)
   */
  private void restartAfterExpiry(Channel c) {
    tail.forget(c.merchantId);
    restart(c);
  }

  /** Claims the channel again for its owner: delivery restarts from the stored cursor + 1. */
  private void restart(Channel c) {
    Subscriber owner = c.owner;
    if (owner != null) {
      assign(c, owner);
      owner.restarted(c);
    }
  }

  /**
   * After the cursor was set through the API: delivery of the channel, if this node serves it,
   * restarts from the new cursor + 1. Any thread.
   */
  public Future<Void> cursorSet(UUID appId, String merchantId, long cursor, long grantVersion) {
    Promise<Void> done = Promise.promise();
    context.runOnContext(
        v -> {
          // After any checkpoint write in flight, so that one cannot land on top of the rewind.
          CheckpointStore.Checkpoint row =
              new CheckpointStore.Checkpoint(appId, merchantId, cursor, grantVersion);
          String key = appId + "/" + merchantId;
          rewinds.put(key, row); // written again with the next checkpoints until it lands
          reasserting.remove(key);
          rewindsPending = rewinds.size();
          Future<Void> forced =
              saving
                  .transform(x -> checkpoints.force(List.of(row)))
                  .onSuccess(
                      x -> {
                        if (rewinds.get(key) == row) { // not a rewind made since
                          rewinds.remove(key);
                        }
                        rewindsPending = rewinds.size();
                      })
                  .onFailure(x -> metrics.checkpointFailures.increment());
          saving = forced.otherwiseEmpty();
          reasserts.put(
              key, new Reassert(row, System.nanoTime() + settings.longestWrite().toNanos()));
          forgetMoves(appId, merchantId);
          Channel c = find(appId, merchantId);
          if (c != null) {
            c.cursor = cursor;
            c.cursorKnown = true;
            restart(c);
          }
          forced.onComplete(done);
        });
    return done.future();
  }

  /**
   * The cursor of (app, merchant) was set on another node: if this node delivers the channel, it
   * claims it again, which answers the stored cursor, and delivery restarts from there. Without
   * this, a channel delivered here with nothing in flight would learn of the rewind only at its
   * next ack, that is, with the merchant's next event. Any thread.
   */
  public Future<Void> cursorSetElsewhere(UUID appId, String merchantId) {
    Promise<Void> done = Promise.promise();
    context.runOnContext(
        v -> {
          // what this node acked before the rewind must not be written over it
          forgetMoves(appId, merchantId);
          Channel c = find(appId, merchantId);
          if (c != null) {
            restart(c);
          }
          done.complete();
        });
    return done.future();
  }

  /**
   * Cursor moves of (app, merchant) not yet checkpointed, by every channel object of it here (one
   * from before a WebSocket reconnected included), are dropped: the cursor was set through the API,
   * and the forward-only checkpoint of a cursor acked before that would undo the rewind. Engine
   * context only.
   */
  private void forgetMoves(UUID appId, String merchantId) {
    dirty.removeIf(d -> d.appId.equals(appId) && d.merchantId.equals(merchantId));
    if (!saving.isComplete()) {
      forgottenDuringRound.add(appId + "/" + merchantId);
    }
  }

  /**
   * The grant of (app, merchant) now has {@code scopes}: if this node serves its channel, every
   * batch cut from now on follows them (with {@code pii}, personal data whole; without, masked).
   * Batches already handed out are not recalled. Any thread; for grant changes made here and for
   * notices of changes made on other nodes.
   */
  public Future<Void> scopesChanged(UUID appId, String merchantId, Collection<String> scopes) {
    Promise<Void> done = Promise.promise();
    context.runOnContext(
        v -> {
          Channel c = find(appId, merchantId);
          if (c != null) {
            c.scopes(scopes);
          }
          done.complete();
        });
    return done.future();
  }

  /** The channel of (app, merchant) on this node, or null. Engine context only. */
  Channel find(UUID appId, String merchantId) {
    Set<Channel> set = byMerchant.get(merchantId);
    if (set != null) {
      for (Channel c : set) {
        if (c.appId.equals(appId)) {
          return c;
        }
      }
    }
    return null;
  }

  /** Whether (app, merchant) has an owner on this node right now. Any thread. */
  public Future<Boolean> delivering(UUID appId, String merchantId) {
    Promise<Boolean> p = Promise.promise();
    context.runOnContext(
        v -> {
          Channel c = find(appId, merchantId);
          p.complete(c != null && c.owner != null);
        });
    return p.future();
  }

  /**
   * Takes the channel away from its owner; reads and acks in flight for it are dropped. Once the
   * owner has nothing of it on the way out ({@link Subscriber#drained}), the claim is released in
   * Redis too, so whichever node the channel is assigned to can claim it.
   */
  public Future<Void> release(Channel c) {
    return drop(c, false);
  }

  /** Completes when the claim is released in Redis (or releasing it failed), at once if none. */
  private Future<Void> drop(Channel c, boolean reclaiming) {
    Subscriber s = c.owner;
    String node = c.claimed ? c.node : null;
    long epoch = c.epoch;
    if (s != null) {
      assignedCount.decrementAndGet();
      Lane lane = lanes.get(s);
      if (lane != null && --lane.owned <= 0 && lane.unused()) {
        lanes.remove(s);
      }
    }
    boolean unsure = !c.claimed && c.unsure && !reclaiming;
    if (!reclaiming) {
      c.unsure = false; // handed to letGoUnsure below; a reclaim's answer settles it otherwise
    }
    c.owner = null;
    c.generation++;
    c.claimed = false;
    c.queued = false;
    c.resend = null;
    c.node = null;
    c.takeoverFrom = null;
    if (!reclaiming && s != null && node != null && node.equals(token())) {
      String key = drainKey(c, epoch);
      draining.add(key);
      return s.drained(c)
          .transform(ar -> letGo(c, node, epoch, ar.succeeded() ? ar.result() : -1L, 0))
          .andThen(ar -> draining.remove(key));
    }
    String lease = token();
    if (unsure && lease != null) {
      letGoUnsure(c, lease, RETRY_MS);
    }
    return Future.succeededFuture();
  }

  /** Handles an ack of {@code seq} by {@code from}. Engine context only. */
  public Future<AckOutcome> ack(Channel c, Subscriber from, long seq) {
    if (c.owner != from) {
      metrics.acksRefused.increment();
      return Future.succeededFuture(AckOutcome.NOT_OWNER);
    }
    if (!c.claimed) {
      // Assigned to this subscriber (it was told so), its claim still in flight: nothing has been
      // sent under it yet, so the ack is of an earlier position. Not a refusal the client must
      // act on; its events follow from the stored cursor.
      metrics.acksRefused.increment();
      return Future.succeededFuture(AckOutcome.STALE);
    }
    if (seq <= c.cursor) {
      metrics.acksAlready.increment();
      return Future.succeededFuture(AckOutcome.ALREADY_ACKED);
    }
    if (seq > c.sent) {
      metrics.acksRefused.increment();
      return Future.succeededFuture(
          seq <= c.maxSent ? AckOutcome.STALE : AckOutcome.BEYOND_DELIVERED);
    }
    int generation = c.generation;
    // An ack of the last event delivered also covers the events passed over after it (its event
    // types leave them out): the cursor goes to what was read, and remembers the last delivered.
    long upTo = seq >= c.lastDelivered ? c.sent : seq;
    long prev = seq >= c.lastDelivered ? c.lastDelivered : seq;
    return commits
        .commit(c.appId, c.merchantId, c.epoch, upTo, prev)
        .map(
            outcome -> {
              if (c.generation != generation) {
                metrics.acksRefused.increment();
                return AckOutcome.NOT_OWNER;
              }
              if (outcome == CommitOutcome.FENCED || outcome == CommitOutcome.MISSING) {
                // An epoch that moved on means a rewind through the API, or another node took the
                // channel over (this one was thought dead); a missing channel means Redis lost it.
                // Either way, claim again: from what Redis now holds (re-seeded with our last
                // committed cursor if it holds nothing), or wait for the node that holds it.
                metrics.fenced.increment();
                restart(c);
                return AckOutcome.RESTARTED;
              }
              metrics.acksCommitted.increment();
              c.cursor = Math.max(c.cursor, upTo);
              acked(c);
              probeAcked(c);
              dirty.add(c);
              c.unackedSince = c.unacked() == 0 ? 0 : System.currentTimeMillis();
              if (c.cursor >= c.lastDelivered && c.cursor < c.sent) {
                // passed over meanwhile, after everything delivered: no ack will cover those
                c.unackedSince = 0;
                passOver(c);
              }
              wake(c);
              return AckOutcome.COMMITTED;
            });
  }

  /**
   * Sends a batch the subscriber handed out again (a callback retry): the engine reads the range
   * back whole, before any new reads of the subscriber, within its limits, and hands it to {@link
   * Subscriber#redeliver} if the channel is still the subscriber's and this node may deliver; so a
   * retry has the same id and body, and no send outlives the channel's claim. Engine context only.
   *
   * @param types the event types the batch was cut with
   * @param prev the batch's first prevSeq
   */
  public void resend(Channel c, Subscriber s, long first, long last, EventTypes types, long prev) {
    if (c.owner != s || !c.claimed) {
      return; // let go meanwhile: the next owner starts from the cursor
    }
    c.resend = new Channel.Resend(first, last, types, prev);
    wake(c);
  }

  /** Queues the channel for a read if it can take more events now. */
  public void wake(Channel c) {
    Subscriber s = c.owner;
    if (s != null && c.resend != null) {
      if (c.claimed && !c.queued && !c.reading) {
        c.queued = true;
        lanes.computeIfAbsent(s, x -> new Lane()).resends.add(c);
        drive(s);
      }
      return;
    }
    if (s == null
        || !c.claimed
        || c.queued
        || c.reading
        || c.sent >= c.knownHead
        || c.unacked() >= s.window()
        || !s.accepts(c)) {
      return;
    }
    c.queued = true;
    Lane lane = lanes.computeIfAbsent(s, x -> new Lane());
    (c.sandbox() ? lane.readySandbox : lane.ready).add(c);
    drive(s);
  }

  /**
   * Reads started for the subscriber and not yet handed over (new events, or batches to send
   * again): a transport that counts them against its own limit asks here. Engine context only.
   */
  public int readsInFlight(Subscriber s) {
    Lane lane = lanes.get(s);
    return lane == null ? 0 : lane.reading;
  }

  /**
   * Starts reads for the subscriber's ready channels, as far as its limits allow: batches to send
   * again first, oldest first, then new events. Engine context only.
   */
  public void drive(Subscriber s) {
    Lane lane = lanes.get(s);
    if (lane == null) {
      return; // nothing waiting, nothing in flight
    }
    if (lane.driving) {
      return; // called from a read below: the loop takes the next channel when the read returns
    }
    lane.driving = true;
    try {
      while (lane.reading < s.maxParallelReads() && lane.waiting() && s.writable()) {
        if (!audit.admitting()) {
          waitForAudit(); // the channels stay queued: no batch leaves that cannot be recorded
          break;
        }
        Channel c = lane.next();
        if (c.owner != s) {
          continue; // left behind when the channel moved: its queued flag is its new owner's now
        }
        c.queued = false;
        if (!c.claimed || c.reading) {
          continue;
        }
        if (c.resend != null) {
          readAgain(s, lane, c);
        } else if (s.accepts(c)) {
          read(s, lane, c);
        }
      }
    } finally {
      lane.driving = false;
    }
    if (lane.unused()) {
      lanes.remove(s, lane);
    }
  }

  /** The timer that drives every subscriber again once the audit trail has room; -1 if none. */
  private long auditWait = -1;

  /**
   * Delivery waits while the audit trail cannot take more records: every {@value #AUDIT_WAIT_MS} ms
   * it looks again, and drives every subscriber with channels queued once it can. Engine context
   * only.
   */
  private void waitForAudit() {
    if (auditWait != -1) {
      return;
    }
    metrics.auditWaits.increment();
    auditWait =
        vertx.setTimer(
            AUDIT_WAIT_MS,
            t -> {
              auditWait = -1;
              if (!audit.admitting()) {
                waitForAudit();
                return;
              }
              for (Subscriber s : List.copyOf(lanes.keySet())) {
                drive(s);
              }
            });
  }

  static final long AUDIT_WAIT_MS = 100;

  /** Reads a batch to send again back whole (see {@link #resend}). */
  private void readAgain(Subscriber s, Lane lane, Channel c) {
    Channel.Resend r = c.resend;
    int generation = c.generation;
    c.reading = true;
    lane.reading++;
    // However the batch was cut (the tail cache can hand out more chunks than one log read
    // returns), its whole range is read back, so it renders the same body.
    log.readRange(pool, c.merchantId, r.first(), r.last())
        .onComplete(
            ar -> {
              lane.reading--;
              c.reading = false;
              mayDeliver(); // past the lease's deadline, every channel stops first
              if (c.generation != generation) {
                wake(c); // changed hands meanwhile: the batch went with it (see read)
              } else if (c.resend == r && mayDeliver(c, s)) {
                c.resend = null;
                if (ar.failed()) {
                  s.redeliveryFailed(c, ar.cause(), false);
                } else if (ar.result().size() != r.last() - r.first() + 1
                    || ar.result().get(0).seq() != r.first()) {
                  s.redeliveryFailed(c, null, true);
                  restartAfterExpiry(c);
                } else {
                  // masked or not by the grant's scope now, which may differ from the first try
                  s.redeliver(
                      c,
                      LoggedEvent.forScope(
                          LoggedEvent.included(ar.result(), r.types(), r.prev()), c.pii));
                }
              }
              drive(s);
            });
  }

  private void read(Subscriber s, Lane lane, Channel c) {
    int generation = c.generation;
    long version = c.headVersion;
    long from = c.sent + 1;
    int limit = (int) Math.min(s.window() - c.unacked(), s.maxBatch());
    if (limit <= 0) {
      return;
    }
    c.reading = true;
    lane.reading++;
    List<LoggedEvent> cached = tail.get(c.merchantId, from, limit);
    // A log read fetches only the rendering this channel sends (see below for a scope change).
    boolean readPii = c.pii;
    Future<List<LoggedEvent>> page =
        cached != null
            ? Future.succeededFuture(cached)
            : log.read(pool, c.merchantId, from, limit, readPii);
    if (cached != null) {
      metrics.tailHits.increment();
    }
    page.onComplete(
        ar -> {
          lane.reading--;
          c.reading = false;
          if (cached == null) {
            metrics.logReads.increment();
          }
          mayDeliver(); // past the lease's deadline, every channel stops before anything is sent
          if (c.generation != generation) {
            // The channel changed hands while this read was in flight (a rebalance moved it to
            // another connection, a restart, a lost lease): this page is dropped. If the new
            // claim has already landed, its wake-up found the channel reading and queued
            // nothing; no commit may ever come to wake it again, so wake it now.
            wake(c);
          } else if (c.owner == s) {
            if (ar.succeeded() && cached == null && readPii && !c.pii) {
              // The grant lost pii while whole events were being read: read them again, masked.
              wake(c);
            } else if (ar.failed()) {
              metrics.readFailures.increment();
              LOG.warn(
                  "reading {} from seq {} failed, retrying in {} ms: {}",
                  c,
                  from,
                  RETRY_MS,
                  ar.cause().toString());
              retryReadLater(c);
            } else if (ar.result().isEmpty()) {
              if (c.headVersion != version) {
                wake(c);
              } else if (c.knownHead != Long.MAX_VALUE && c.knownHead > c.sent) {
                // The head is past `from` and the log holds nothing from there on: retention
                // removed more than a read's worth of what this channel had not sent. Passed over
                // once all that was delivered is acked (the ack wakes the channel again), so the
                // cursor can follow.
                if (c.cursor >= c.lastDelivered) {
                  skipExpired(s, lane, c, from, version);
                } else {
                  metrics.expiredDeferred.increment();
                }
              } else {
                c.knownHead = c.sent;
              }
            } else {
              List<LoggedEvent> events = ar.result();
              boolean allAcked = c.cursor >= c.lastDelivered;
              if (events.get(0).seq() != from) {
                // The events between were removed by retention before this channel got to them:
                // the next prevSeq says so (they count as ones the app would have got).
                metrics.expiredSkipped.increment(events.get(0).seq() - from);
                c.lastDelivered = events.get(0).seq() - 1;
              }
              // the grant's event types as they are now: a change applies from this batch on
              List<LoggedEvent> included = LoggedEvent.included(events, c.types, c.lastDelivered);
              if (included.size() < events.size()) {
                metrics.eventsFiltered.increment(events.size() - included.size());
              }
              c.sent = events.get(events.size() - 1).seq();
              c.maxSent = Math.max(c.maxSent, c.sent);
              if (included.isEmpty()) {
                // Nothing to send; with nothing delivered left unacked, no ack will come to move
                // the cursor past these, so the engine moves it.
                if (allAcked) {
                  passOver(c);
                }
              } else {
                if (allAcked) {
                  c.unackedSince = System.currentTimeMillis();
                }
                c.lastDelivered = included.get(included.size() - 1).seq();
                metrics.eventsSent.increment(included.size());
                metrics.batchEvents.record(included.size());
                long committedAt = commitTime(included.get(included.size() - 1));
                if (committedAt > 0 && !c.sandbox()) {
                  metrics.commitToSend.record(
                      Math.max(0, System.currentTimeMillis() - committedAt), TimeUnit.MILLISECONDS);
                }
                if (probe.watches(c.appId)) {
                  probeSent(c, included, committedAt);
                }
                // the grant's scope as it is now: a change applies from this batch on
                s.deliver(c, LoggedEvent.forScope(included, c.pii));
              }
              wake(c);
            }
          }
          drive(s);
        });
  }

  /** A read failed (PostgreSQL): the channel is read again after {@link #RETRY_MS}. */
  private void retryReadLater(Channel c) {
    c.readRetry = true;
    vertx.setTimer(
        RETRY_MS,
        id -> {
          c.readRetry = false;
          wake(c);
        });
  }

  /**
   * A read from {@code from} found nothing although the merchant's committed head is past it:
   * retention removed those events (a whole day partition can hold more than one read's worth).
   * Delivery goes on from the next event still stored, the next {@code prevSeq} showing the gap as
   * the path for a partly removed page does; with nothing stored, the channel passes the head, its
   * cursor moved (fenced) once all it was sent is acked. Without this the channel would stay short
   * of its head, and every reconcile round would wake it to read nothing again. Engine context
   * only.
   */
  private void skipExpired(Subscriber s, Lane lane, Channel c, long from, long version) {
    int generation = c.generation;
    c.reading = true;
    lane.reading++;
    log.nextStored(pool, c.merchantId, from)
        .onComplete(
            ar -> {
              lane.reading--;
              c.reading = false;
              if (c.generation != generation) {
                wake(c);
              } else if (ar.failed()) {
                metrics.readFailures.increment();
                LOG.warn(
                    "finding the next stored event of {} failed: {}", c, ar.cause().toString());
                retryReadLater(c);
              } else if (ar.result() > from) {
                long next = ar.result();
                metrics.expiredSkipped.increment(next - from);
                c.sent = next - 1;
                c.maxSent = Math.max(c.maxSent, c.sent);
                c.lastDelivered = c.sent;
                passOver(c); // all that was delivered is acked: only then is this looked up
                wake(c);
              } else if (c.headVersion == version) {
                // stored after all (nothing removed): wait for the next wake-up as before
                c.knownHead = c.sent;
              } else {
                wake(c);
              }
              drive(s);
            });
  }

  /**
   * Moves the cursor over events passed over since the last delivered one, all of it acked: fenced
   * like an ack (a stale owner cannot move it), and remembering the last delivered seq for the
   * {@code prevSeq} after a reconnect. Engine context only.
   */
  private void passOver(Channel c) {
    int generation = c.generation;
    long upTo = c.sent;
    cursors
        .commit(context, c.appId, c.merchantId, c.epoch, upTo, c.lastDelivered)
        .onComplete(
            ar -> {
              if (c.generation != generation || c.owner == null) {
                return;
              }
              if (ar.failed()) {
                LOG.warn(
                    "moving the cursor of {} past filtered events up to {} failed, retrying in {} ms:"
                        + " {}",
                    c,
                    upTo,
                    RETRY_MS,
                    ar.cause().toString());
                vertx.setTimer(
                    RETRY_MS,
                    id -> {
                      if (c.generation == generation
                          && c.owner != null
                          && c.cursor < c.sent
                          && c.cursor >= c.lastDelivered) {
                        passOver(c);
                      }
                    });
                return;
              }
              if (ar.result() == CommitOutcome.FENCED || ar.result() == CommitOutcome.MISSING) {
                metrics.fenced.increment();
                restart(c);
                return;
              }
              c.cursor = Math.max(c.cursor, upTo);
              acked(c);
              dirty.add(c);
              if (c.cursor >= c.lastDelivered && c.cursor < c.sent) {
                passOver(c); // passed over more meanwhile
              }
              wake(c);
            });
  }

  /**
   * When the event was committed (its line's ingestedAt, {@link LoggedEvent#ingestedAtMillis}), in
   * epoch ms; 0 if the line has none.
   */
  private static long commitTime(LoggedEvent e) {
    return Math.max(0, e.ingestedAtMillis());
  }

  /** Remembers a batch of a watched app until an ack covers it (bounded by the window). */
  private static void probeSent(Channel c, List<LoggedEvent> included, long committedAt) {
    if (committedAt <= 0) {
      return;
    }
    if (c.probed == null) {
      c.probed = new java.util.ArrayDeque<>();
    }
    if (c.probed.size() >= Channel.MAX_PROBED) {
      c.probed.poll();
    }
    c.probed.add(
        new long[] {included.get(included.size() - 1).seq(), included.size(), committedAt});
  }

  /** Reports the batches the cursor now covers to the probe. */
  private void probeAcked(Channel c) {
    if (c.probed == null || c.probed.isEmpty()) {
      return;
    }
    long now = System.currentTimeMillis();
    while (!c.probed.isEmpty() && c.probed.peek()[0] <= c.cursor) {
      long[] b = c.probed.poll();
      probe.acked(c.appId, c.merchantId, b[1], b[2], now);
    }
  }

  /** Counts the channels of this node by state (see {@link ChannelStates}). Any thread. */
  public Future<ChannelStates> channelStates() {
    Promise<ChannelStates> p = Promise.promise();
    context.runOnContext(v -> p.complete(classify(new long[1])));
    return p.future();
  }

  /**
   * Counts the channels by state, and adds the events they are behind (owned channels with a known
   * head) into {@code lag[0]}, in one pass.
   */
  private ChannelStates classify(long[] lag) {
    ChannelStates states = new ChannelStates();
    long sum = 0;
    for (Set<Channel> set : byMerchant.values()) {
      for (Channel c : set) {
        states.count(stateOf(c));
        if (c.owner != null && c.knownHead != Long.MAX_VALUE) {
          sum += Math.max(0, c.knownHead - c.cursor);
        }
      }
    }
    lag[0] += sum;
    return states;
  }

  private String stateOf(Channel c) {
    Subscriber s = c.owner;
    if (s == null) {
      return "unowned";
    }
    if (!c.claimed) {
      return "claiming";
    }
    if (c.reading) {
      return "reading";
    }
    if (c.readRetry) {
      return "read_retry";
    }
    if (c.queued && c.resend == null) {
      return "ready"; // a batch to send again: the subscriber says (retry_queued)
    }
    String held = s.heldBy(c);
    if (held != null) {
      return held;
    }
    if (c.unacked() >= s.window()) {
      return "window_full";
    }
    if (c.sent >= c.knownHead) {
      return "caught_up";
    }
    return ChannelStates.STUCK;
  }
}
