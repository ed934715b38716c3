package io.orderpush.delivery.callback;

import io.orderpush.delivery.audit.DeliveryAudit;
import io.orderpush.delivery.channel.Channel;
import io.orderpush.delivery.channel.ChannelStates;
import io.orderpush.delivery.channel.DeliveryEngine;
import io.orderpush.delivery.channel.Subscriber;
import io.orderpush.delivery.logging.LogContext;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.events.EventTypes;
import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An app's callback endpoint: owns all of the app's channels on this node, keeps one batch in
 * flight per channel and at most {@code maxInFlightPerApp} for the app. A failed batch waits for
 * its retry without holding a slot, so one merchant's failures never stop the others; when it is
 * due, the engine reads the same seq range back ({@link DeliveryEngine#resend}, before new reads),
 * which renders the same body under the same id. Confined to the delivery engine's context.
 */
final class CallbackEndpoint implements Subscriber {

  private static final Logger LOG = LoggerFactory.getLogger(CallbackEndpoint.class);
  static final Duration RETRY_AFTER_CEILING = Duration.ofHours(1);

  /** A batch handed out and not yet acked. */
  private static final class Batch {
    final long first;
    final long last;

    /** The {@code webhook-id} of every attempt. */
    final String id;

    int attempts;
    boolean sending;
    long timer = -1;

    /**
     * No longer the channel's batch (it restarted, or was let go or revoked) while its POST was
     * out: its answer acks nothing, and no other batch of the merchant leaves before it comes.
     */
    boolean stale;

    /**
     * Stale because its channel restarted (a rewind, a fenced ack, a new claim): its 2xx acks
     * nothing, not even for a release. A batch let go with its channel (moved, revoked) is stale
     * without this: its answer still decides what the release stores.
     */
    boolean restarted;

    /**
     * Asked of the engine to be sent again ({@link DeliveryEngine#resend}), not yet handed back.
     */
    boolean resendAsked;

    /** Completed with the acked seq (or -1) when this batch's POST in flight is answered. */
    io.vertx.core.Promise<Long> drain;

    long dueAt;

    /**
     * The event types the batch was cut with and its first event's prevSeq: a retry reads the range
     * back and renders the same events, whatever the grant says meanwhile.
     */
    final EventTypes types;

    final long prev;

    Batch(String id, long first, long last, EventTypes types, long prev) {
      this.id = id;
      this.first = first;
      this.last = last;
      this.types = types;
      this.prev = prev;
    }
  }

  final UUID appId;
  private final URI url;
  private final DeliveryEngine engine;
  private final CallbackSender sender;
  private final CallbackSettings settings;
  private final CallbackMetrics metrics;
  private final AppStore apps;

  /** Told the app's id once a suspension this endpoint made on a {@code 410} is stored. */
  private final java.util.function.Consumer<UUID> goneStored;

  final Map<String, Channel> channels = new HashMap<>();
  private final Map<Channel, Batch> pending = new HashMap<>();

  /**
   * POSTs still out for batches no channel tracks any more ({@link Batch#stale}), by merchant: one
   * batch of a merchant in flight at a time holds across a restart, a rewind or a re-grant too. The
   * app's, shared with the endpoints it has on this node before and after this one.
   */
  private final Map<String, Batch> unanswered;

  private final Unanswered appUnanswered;

  /**
   * An app's POSTs still out on this node for batches no channel tracks any more, by merchant. It
   * outlives the app's endpoint (a freeze and unfreeze builds a new one, while the old one's POSTs
   * are out), so one batch of a merchant in flight at a time holds across that too. Engine context
   * only.
   */
  static final class Unanswered {
    private final Map<String, Batch> byMerchant = new HashMap<>();

    /**
     * The app's POSTs out on this node, from any of its endpoints here: what {@code
     * callback.max-in-flight-per-app} counts, so POSTs of an endpoint from before a freeze and
     * unfreeze count against the new one's limit until they are answered.
     */
    private int posts;

    /** The app's endpoint here now, whose channel an answer wakes; null while it has none. */
    private CallbackEndpoint current;

    /** Told when the last POST is answered while the app has no endpoint here. */
    private final java.util.function.Consumer<Unanswered> idle;

    Unanswered(java.util.function.Consumer<Unanswered> idle) {
      this.idle = idle;
    }

    boolean isEmpty() {
      return byMerchant.isEmpty() && posts == 0;
    }

    /** A POST of the app left. */
    private void sent() {
      posts++;
    }

    /**
     * A POST of the app, sent by {@code from}, was answered or gave up. The app's endpoint here now
     * has a slot more: {@code from} drives itself afterwards, a later endpoint is driven here.
     */
    private void ended(DeliveryEngine engine, CallbackEndpoint from) {
      posts--;
      if (current == null && isEmpty()) {
        idle.accept(this);
      } else if (current != null && current != from) {
        engine.drive(current);
      }
    }

    /** The app's endpoint here is gone (frozen, deleted): later answers wake nothing. */
    void endpointClosed(CallbackEndpoint e) {
      if (current == e) {
        current = null;
      }
    }

    /** {@code b}'s POST was answered: the merchant's next batch may leave. */
    private void answered(DeliveryEngine engine, String merchantId, Batch b) {
      if (!byMerchant.remove(merchantId, b)) {
        return;
      }
      Channel now = current == null ? null : current.channels.get(merchantId);
      if (now != null) {
        engine.wake(now);
      }
      // the POST still counts until ended(), which lets go of this object once it is idle
    }
  }

  private List<String> secrets;
  private String state;
  private int consecutiveFailures;
  private String lastError;
  private long lastSuccessAt;
  private long failingSince;
  private boolean closed;

  /**
   * When (System.nanoTime) this endpoint's latest state write landed in PostgreSQL; {@link
   * Long#MAX_VALUE} while one is on its way (or being retried). A stored state read before it
   * landed may predate it (a reconcile that read "active" just before a 410 suspended the endpoint
   * here), so {@link #follow} ignores such a read and reads again once the write landed.
   */
  private long stateStoredAt = Long.MIN_VALUE;

  /**
   * The state write on its way, if any. One at a time, so PostgreSQL applies this endpoint's writes
   * in the order it made them; a state wanted meanwhile waits in {@link #queuedWrite}.
   */
  private StateWrite writing;

  /** The latest state wanted while {@link #writing} was on its way (it replaces an earlier one). */
  private StateWrite queuedWrite;

  /** The timer of {@link #writing}'s next attempt after a failure, -1 while none waits. */
  private long stateRetryTimer = -1;

  /** A stored state was ignored while this endpoint's own write was on its way. */
  private boolean followSkipped;

  /**
   * A state to store. {@code health}: active or failing from delivery outcomes, which never replace
   * a stored suspension. {@code stored}, if not null, runs once it is stored while still this
   * endpoint's state or with another write queued behind it (the others read what is stored).
   * {@code firstAttempt} completes after its first attempt, failed with {@link
   * EndpointStateNotStoredException} if that attempt failed (succeeded when a later state replaced
   * it before it was sent, or the endpoint closed). {@code operator}: an operator's suspend or
   * resume, whose first failed attempt is not retried: the operator is answered that nothing
   * changed, and this node follows the stored state again.
   */
  private record StateWrite(
      String state, boolean health, Runnable stored, Promise<Void> firstAttempt, boolean operator) {

    /**
     * This write in place of {@code older}, which may not be stored: unconditional if either is (a
     * health write must not drop an operator's resume it replaced).
     */
    StateWrite replacing(StateWrite older) {
      return health && !older.health()
          ? new StateWrite(
              state, false, stored != null ? stored : older.stored(), firstAttempt, false)
          : this;
    }
  }

  CallbackEndpoint(
      UUID appId,
      URI url,
      String state,
      List<String> secrets,
      DeliveryEngine engine,
      CallbackSender sender,
      CallbackSettings settings,
      CallbackMetrics metrics,
      AppStore apps,
      java.util.function.Consumer<UUID> goneStored,
      Unanswered unanswered) {
    this.appId = appId;
    this.appUnanswered = unanswered;
    this.unanswered = unanswered.byMerchant;
    unanswered.current = this;
    this.url = url;
    this.state = state;
    this.secrets = secrets;
    this.engine = engine;
    this.sender = sender;
    this.settings = settings;
    this.metrics = metrics;
    this.apps = apps;
    this.goneStored = goneStored;
    metrics.moved(null, state);
  }

  @Override
  public String id() {
    return "callback:" + appId;
  }

  @Override
  public int window() {
    return settings.batchSize();
  }

  @Override
  public int maxBatch() {
    return settings.batchSize();
  }

  @Override
  public int maxParallelReads() {
    return Math.min(4, settings.maxInFlightPerApp());
  }

  @Override
  public boolean writable() {
    // a read started now (new events, or a batch to send again, which the engine reads first)
    // becomes a POST when it completes: reads count against the limit too
    return !closed
        && !"suspended".equals(state)
        && appUnanswered.posts + engine.readsInFlight(this) < settings.maxInFlightPerApp();
  }

  @Override
  public boolean accepts(Channel channel) {
    return !pending.containsKey(channel) && !unanswered.containsKey(channel.merchantId());
  }

  @Override
  public void claimed(Channel channel, long cursor) {
    untrack(channel, true);
    Batch before = unanswered.get(channel.merchantId());
    if (before != null) {
      // Claimed anew while a POST from before is out (of this channel object or of one the app's
      // endpoint had before a freeze): the claim it was sent under is fenced, and its answer must
      // not be stored by a release of this claim, which may have rewound since.
      before.restarted = true;
    }
  }

  /** The channel's batch is no longer tracked; one whose POST is out waits for its answer. */
  private void untrack(Channel c, boolean restarted) {
    Batch b = pending.remove(c);
    if (b != null) {
      engine.vertx().cancelTimer(b.timer);
      if (b.sending) {
        b.stale = true;
        b.restarted |= restarted;
        unanswered.put(c.merchantId(), b);
      }
    }
  }

  @Override
  public void deliver(Channel c, List<LoggedEvent> events) {
    long first = events.get(0).seq();
    long last = events.get(events.size() - 1).seq();
    Batch b =
        new Batch(
            batchId(appId, c.merchantId(), first, last, c.rewinds()),
            first,
            last,
            c.types(),
            events.get(0).prevSeq());
    pending.put(c, b);
    send(c, b, events);
  }

  @Override
  public String heldBy(Channel c) {
    if (unanswered.containsKey(c.merchantId())) {
      return "sending"; // the answer to a POST from before the channel restarted
    }
    Batch b = pending.get(c);
    if (b == null) {
      return "suspended".equals(state) ? "suspended" : null;
    }
    if (b.sending) {
      return "sending";
    }
    if ("suspended".equals(state)) {
      return "suspended";
    }
    if (b.timer >= 0) {
      return "retry_scheduled";
    }
    return b.resendAsked ? "retry_queued" : ChannelStates.STUCK;
  }

  @Override
  public Future<Long> drained(Channel c) {
    Batch b = pending.get(c);
    if (b == null || !b.sending) {
      b = unanswered.get(c.merchantId());
    }
    if (b == null || !b.sending) {
      return Future.succeededFuture(-1L);
    }
    if (b.drain == null) {
      b.drain = io.vertx.core.Promise.promise();
    }
    return b.drain.future();
  }

  void forget(Channel c) {
    untrack(c, false);
  }

  /**
   * The batch id: the same for every attempt of the same seq range of the same channel, and another
   * one once the channel's cursor was set through the API or started again for a new grant ({@code
   * rewinds}), so a receiver that deduplicates by {@code webhook-id} takes the events sent again
   * instead of dropping them as retries. A channel never rewound keeps the ids it always had.
   */
  static String batchId(UUID appId, String merchantId, long first, long last, long rewinds) {
    String range = appId + "/" + merchantId + "/" + first + "-" + last;
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256")
              .digest(
                  (rewinds == 0 ? range : range + "/r" + rewinds).getBytes(StandardCharsets.UTF_8));
      return "msg_" + Base64.getUrlEncoder().withoutPadding().encodeToString(h).substring(0, 27);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static byte[] body(String merchantId, List<LoggedEvent> events) {
    StringBuilder sb =
        new StringBuilder(events.size() * 450 + 64)
            .append("{\"merchantId\":")
            .append(io.vertx.core.json.Json.encode(merchantId))
            .append(",\"events\":[");
    for (int i = 0; i < events.size(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      events.get(i).appendTo(sb);
    }
    return sb.append("]}").toString().getBytes(StandardCharsets.UTF_8);
  }

  private void send(Channel c, Batch b, List<LoggedEvent> events) {
    long started = System.nanoTime();
    long sentAt = System.currentTimeMillis();
    b.sending = true;
    metrics.batchEvents.record(events.size());
    String webhookId = b.id;
    String held = engine.audit().held(c, events);
    // as the body leaves: the grant's scope may change before the answer comes
    boolean masked = DeliveryAudit.masked(c);
    Future<Attempt> posted;
    appUnanswered.sent(); // ended exactly once below, whatever the POST does
    try {
      posted = sender.post(url, webhookId, secrets, body(c.merchantId(), events));
    } catch (RuntimeException e) {
      posted = Future.failedFuture(e); // a failed attempt, retried like one
    }
    posted.onComplete(
        ar ->
            engine
                .context()
                .runOnContext(
                    v -> {
                      b.sending = false;
                      if (b.stale) {
                        // the merchant's next batch may leave now
                        appUnanswered.answered(engine, c.merchantId(), b);
                      }
                      appUnanswered.ended(engine, CallbackEndpoint.this);
                      Attempt a =
                          ar.succeeded()
                              ? ar.result()
                              : new Attempt(0, Optional.empty(), String.valueOf(ar.cause()));
                      if (b.drain != null) {
                        // the channel was let go while this POST was out: its answer decides
                        // what the release stores, and only then may another node send
                        // (a restarted batch's 2xx acks nothing: its range starts again)
                        b.drain.tryComplete(a.succeeded() && !b.restarted ? b.last : -1L);
                      }
                      engine
                          .audit()
                          .callback(
                              c,
                              url,
                              b.first,
                              b.last,
                              sentAt,
                              new DeliveryAudit.Answer(
                                  webhookId,
                                  a.status(),
                                  a.error(),
                                  (int) ((System.nanoTime() - started) / 1_000_000),
                                  a.responseHead()),
                              masked,
                              held);
                      metrics.attempt(
                          a.succeeded()
                              ? "success"
                              : a.gone() ? "gone" : a.status() == 0 ? "no_answer" : "failure",
                          a.statusClass(),
                          System.nanoTime() - started);
                      if (engine.probe().watches(c.appId())) {
                        engine
                            .probe()
                            .callbackAnswered(
                                c.appId(),
                                c.merchantId(),
                                a.status(),
                                a.status() == 0
                                    && String.valueOf(a.error())
                                        .toLowerCase(java.util.Locale.ROOT)
                                        .contains("timeout"),
                                b.attempts + 1);
                      }
                      if (!a.succeeded()) {
                        logFailedAttempt(c, b, a, System.nanoTime() - started);
                      }
                      if (pending.get(c) == b) {
                        outcome(c, b, a);
                      }
                      pump();
                    }));
  }

  /**
   * One line per failed attempt, with the endpoint's host and port only: the URL's path and query
   * may carry the receiver's own credentials, and the webhook secret is never logged.
   */
  private void logFailedAttempt(Channel c, Batch b, Attempt a, long nanos) {
    String error = a.error();
    if (url.getRawQuery() != null && error != null) {
      error = error.replace(url.getRawQuery(), "...");
    }
    if (url.getRawPath() != null && url.getRawPath().length() > 1 && error != null) {
      error = error.replace(url.getRawPath(), "/...");
    }
    String host = url.getPort() < 0 ? url.getHost() : url.getHost() + ":" + url.getPort();
    try (var log =
        LogContext.with()
            .put("app", appId)
            .put("merchant", c.merchantId())
            .put("host", host)
            .put("webhookId", b.id)
            .put("fromSeq", b.first)
            .put("toSeq", b.last)
            .put("attempt", b.attempts + 1)
            .put("status", a.status() == 0 ? null : a.status())
            .put("latencyMs", nanos / 1_000_000)) {
      LOG.warn(
          "callback attempt failed: host {}, {}",
          host,
          a.status() == 0 ? error : "HTTP " + a.status());
    }
  }

  private void outcome(Channel c, Batch b, Attempt a) {
    if (a.succeeded()) {
      succeeded();
      engine
          .ack(c, this, b.last)
          .onComplete(
              ack -> {
                if (pending.get(c) != b) {
                  return;
                }
                if (ack.failed()) {
                  // Delivered, but the cursor could not be stored: deliver again later (same id).
                  failed(
                      c,
                      b,
                      new Attempt(
                          0, Optional.empty(), "cursor not stored: " + ack.cause().getMessage()));
                  return;
                }
                pending.remove(c);
                engine.wake(c);
              });
    } else if (a.gone()) {
      lastError = "HTTP 410 Gone: endpoint suspended until an operator resumes it";
      if (!"suspended".equals(state)) {
        // stored, then the other nodes are told (as for an operator's suspend), so none of them
        // goes on posting to an endpoint that answered Gone until its reconcile
        setState("suspended", false);
        record("suspended", false, () -> goneStored.accept(appId), false);
      }
    } else {
      failed(c, b, a);
    }
  }

  private void succeeded() {
    consecutiveFailures = 0;
    lastSuccessAt = System.currentTimeMillis();
    failingSince = 0;
    if ("failing".equals(state)) {
      setState("active");
    }
  }

  private void failed(Channel c, Batch b, Attempt a) {
    long now = System.currentTimeMillis();
    consecutiveFailures++;
    lastError = a.error();
    if (failingSince == 0) {
      failingSince = now;
    }
    if ("active".equals(state) && now - failingSince >= settings.failingAfter().toMillis()) {
      setState("failing");
    }
    b.attempts++;
    // a 429 or 503 asks for exactly that long; any other answer's Retry-After only lengthens the
    // backoff (a failing server that says "1" on every 500 must not be retried at the floor)
    Duration backoff = backoff(b.attempts);
    long delay =
        a.retryAfter()
            .map(this::clamp)
            .map(
                asked ->
                    a.status() == 429 || a.status() == 503 || asked.compareTo(backoff) > 0
                        ? asked
                        : backoff)
            .orElse(backoff)
            .toMillis();
    metrics.retries.increment();
    b.dueAt = now + delay;
    b.timer =
        engine
            .vertx()
            .setTimer(
                Math.max(1, delay),
                t -> {
                  b.timer = -1;
                  if (pending.get(c) == b && !"suspended".equals(state)) {
                    askResend(c, b);
                  }
                });
  }

  /**
   * Retention removed events of a batch that was never acked: that batch (its id and body) can no
   * longer be sent. It is dropped, counted and shown on the endpoint, and the channel goes on from
   * its cursor with whatever is still stored (the engine counts the skipped events).
   */
  private void expired(Channel c, Batch b) {
    pending.remove(c);
    metrics.expiredBatches.increment();
    lastError =
        "batch of seqs "
            + b.first
            + "-"
            + b.last
            + " of merchant "
            + c.merchantId()
            + " was removed by retention before it was delivered; delivery goes on after it";
    LOG.warn("callback app {}: {}", appId, lastError);
    // the engine starts the channel over from its cursor
  }

  /**
   * Retry-After is honoured between the initial backoff and an hour (or the max backoff, if
   * longer).
   */
  private Duration clamp(Duration retryAfter) {
    long ceiling = Math.max(RETRY_AFTER_CEILING.toMillis(), settings.maxBackoff().toMillis());
    return Duration.ofMillis(
        Math.max(settings.initialBackoff().toMillis(), Math.min(retryAfter.toMillis(), ceiling)));
  }

  /**
   * initial x 2^(attempt-1), capped, with +/-20% jitter so failing channels do not retry in step.
   */
  Duration backoff(int attempt) {
    double base = settings.initialBackoff().toMillis() * Math.pow(2, Math.min(attempt - 1, 30));
    double capped = Math.min(base, settings.maxBackoff().toMillis());
    return Duration.ofMillis((long) (capped * ThreadLocalRandom.current().nextDouble(0.8, 1.2)));
  }

  /** Asks the engine to read the batch back and hand it to {@link #redeliver}. */
  private void askResend(Channel c, Batch b) {
    b.resendAsked = true;
    engine.resend(c, this, b.first, b.last, b.types, b.prev);
  }

  @Override
  public void redeliver(Channel c, List<LoggedEvent> events) {
    Batch b = pending.get(c);
    if (b == null || !b.resendAsked || b.sending) {
      return;
    }
    b.resendAsked = false;
    send(c, b, events);
  }

  @Override
  public void redeliveryFailed(Channel c, Throwable cause, boolean expired) {
    Batch b = pending.get(c);
    if (b == null || !b.resendAsked) {
      return;
    }
    b.resendAsked = false;
    if (expired) {
      expired(c, b);
    } else {
      failed(
          c,
          b,
          new Attempt(
              0,
              Optional.empty(),
              "re-reading seqs " + b.first + "-" + b.last + " failed: " + cause));
    }
  }

  /** New reads through the engine (batches to send again first). */
  private void pump() {
    engine.drive(this);
  }

  /**
   * Completes once the state is stored, or fails with {@link EndpointStateNotStoredException} if
   * storing it failed: then nothing changed, and this node follows the stored state again (no
   * retry: it could land after a later change made elsewhere and undo it). Stored even if this node
   * was suspended already: the operator's word is the cluster's. {@code stored} runs once it is
   * stored.
   */
  Future<Void> suspend(Runnable stored) {
    lastError = lastError == null ? "suspended by an operator" : lastError;
    setState("suspended", false);
    return record("suspended", false, stored, true);
  }

  /**
   * Back to active: every waiting batch is retried at once, then delivery continues. Stored even if
   * this node had not followed a suspension made elsewhere (a 410 another node saw); completes and
   * runs {@code stored} as {@link #suspend} does.
   */
  Future<Void> resume(Runnable stored) {
    setState("active", false);
    retryAll();
    return record("active", false, stored, true);
  }

  /**
   * Follows a suspend or resume made on another node, whose state is already stored: nothing is
   * written here, so a late write of ours can never undo a newer one of theirs. {@code readAt}
   * (System.nanoTime) is when the read of {@code storedState} started: a read that started before
   * this endpoint's own latest state write landed may not see it, so it is ignored, and the state
   * is read again once that write landed.
   */
  void follow(String storedState, long readAt) {
    if (closed) {
      return;
    }
    if (readAt <= stateStoredAt) {
      followSkipped = true;
      metrics.staleStates.increment();
      if (stateStoredAt != Long.MAX_VALUE) {
        followAgain(); // landed meanwhile: this read may have missed it, read again
      }
      return;
    }
    apply(storedState);
  }

  /** Suspended or not as stored: nothing is written. */
  private void apply(String storedState) {
    boolean suspended = "suspended".equals(storedState);
    if (suspended == "suspended".equals(state)) {
      return;
    }
    if (suspended) {
      lastError = lastError == null ? "suspended (on another node)" : lastError;
      setState("suspended", false);
    } else {
      setState("active", false);
      retryAll();
    }
  }

  /**
   * Reads the stored state again and follows it (a read ignored as older than our write). A failed
   * read is tried again a second later: the reconcile would not report the app again, as the change
   * it reported counts as applied.
   */
  private void followAgain() {
    followSkipped = false;
    long readAt = System.nanoTime();
    apps.find(appId)
        .onSuccess(app -> app.ifPresent(a -> follow(a.endpointState(), readAt)))
        .onFailure(
            err -> {
              LOG.warn(
                  "could not read the endpoint state of app {} again, retrying in 1 s: {}",
                  appId,
                  err.toString());
              followSkipped = true;
              engine
                  .vertx()
                  .setTimer(
                      1000,
                      t -> {
                        if (!closed && followSkipped && stateStoredAt != Long.MAX_VALUE) {
                          followAgain();
                        }
                      });
            });
  }

  boolean suspended() {
    return "suspended".equals(state);
  }

  /**
   * An operator's "retry now": every waiting batch is sent again at once and its backoff starts
   * over. A suspended endpoint stays suspended (resume it instead); answers whether it retried.
   */
  boolean retryNow() {
    if ("suspended".equals(state)) {
      return false;
    }
    pending.values().forEach(b -> b.attempts = 0);
    retryAll();
    return true;
  }

  private void retryAll() {
    failingSince = 0;
    for (Map.Entry<Channel, Batch> e : pending.entrySet()) {
      Batch b = e.getValue();
      if (b.timer >= 0) {
        engine.vertx().cancelTimer(b.timer);
        b.timer = -1;
      }
      if (!b.sending && !b.resendAsked) {
        askResend(e.getKey(), b);
      }
    }
    pump();
    channels.values().forEach(engine::wake);
  }

  void secrets(List<String> secrets) {
    this.secrets = secrets;
  }

  private Future<Void> setState(String next) {
    return setState(next, true);
  }

  private Future<Void> setState(String next, boolean store) {
    if (next.equals(state)) {
      return Future.succeededFuture();
    }
    metrics.moved(state, next);
    LOG.info(
        "callback endpoint of app {} is now {}{}",
        appId,
        next,
        lastError == null ? "" : " (" + lastError + ")");
    state = next;
    return store ? record(next, true, null, false) : Future.succeededFuture();
  }

  /**
   * Stores the state (a suspension must survive a restart) once the write on its way, if any, is
   * done. Completes after the first attempt (see {@link StateWrite}); a failed write is retried
   * with backoff until stored or superseded by another state change of this endpoint. A write
   * retried that long can land after a resume or suspend made elsewhere meanwhile and undo it; only
   * a node that can read PostgreSQL but not write the app's row keeps retrying that long.
   */
  private Future<Void> record(String next, boolean health, Runnable stored, boolean operator) {
    stateStoredAt = Long.MAX_VALUE;
    StateWrite w = new StateWrite(next, health, stored, Promise.promise(), operator);
    Future<Void> answered = w.firstAttempt().future();
    if (writing == null) {
      attempt(w, 1);
    } else if (stateRetryTimer >= 0) {
      // the one before failed and waits for its retry: this one goes now, in its place
      engine.vertx().cancelTimer(stateRetryTimer);
      stateRetryTimer = -1;
      StateWrite older = queuedWrite != null ? queuedWrite.replacing(writing) : writing;
      if (queuedWrite != null) {
        queuedWrite.firstAttempt().tryComplete();
        queuedWrite = null;
      }
      attempt(w.replacing(older), 1);
    } else {
      if (queuedWrite != null) {
        queuedWrite.firstAttempt().tryComplete(); // replaced before it was sent
        w = w.replacing(queuedWrite);
      }
      queuedWrite = w;
    }
    return answered;
  }

  private void attempt(StateWrite w, int attempt) {
    writing = w;
    Future<String> written =
        w.health()
            ? apps.setEndpointHealth(appId, w.state())
            : apps.setEndpointState(appId, w.state()).map(w.state());
    written.onComplete(
        ar -> {
          if (ar.succeeded()) {
            w.firstAttempt().tryComplete();
          } else {
            w.firstAttempt()
                .tryFail(
                    ar.cause() instanceof io.orderpush.persistence.apps.NotFoundException
                        ? ar.cause() // deleted meanwhile: nothing to store
                        : new EndpointStateNotStoredException(w.state(), ar.cause()));
          }
          if (closed) {
            return;
          }
          if (ar.succeeded() && w.stored() != null && queuedWrite != null) {
            // stored: the others read the stored state on the notice, whatever is queued here
            w.stored().run();
          }
          StateWrite next = queuedWrite;
          if (next != null) {
            queuedWrite = null;
            // superseded, whatever the answer: the newer state goes now (in place of this one if
            // this one failed)
            attempt(ar.succeeded() ? next : next.replacing(w), 1);
            return;
          }
          if (ar.succeeded()) {
            writing = null;
            stateStoredAt = System.nanoTime();
            if (w.stored() != null && w.state().equals(state)) {
              w.stored().run();
            }
            // a health write does not replace a suspension made elsewhere: follow it then
            apply(ar.result());
            if (followSkipped) {
              followAgain();
            }
            return;
          }
          metrics.stateWriteFailures.increment();
          if (w.operator()
              || ar.cause() instanceof io.orderpush.persistence.apps.NotFoundException) {
            // the operator was answered that nothing changed (or the app is gone): no retry
            // that could land after a later change made elsewhere; the stored state holds here
            LOG.warn(
                "could not record endpoint state {} of app {}; following the stored state: {}",
                w.state(),
                appId,
                ar.cause().toString());
            writing = null;
            stateStoredAt = System.nanoTime();
            followAgain();
            return;
          }
          long delay = Math.min(30_000L, 250L << Math.min(attempt, 7));
          LOG.warn(
              "could not record endpoint state {} of app {} (attempt {}), retrying in {} ms: {}",
              w.state(),
              appId,
              attempt,
              delay,
              ar.cause().toString());
          stateRetryTimer =
              engine
                  .vertx()
                  .setTimer(
                      delay,
                      t -> {
                        stateRetryTimer = -1;
                        if (!closed) {
                          attempt(w, attempt + 1); // a newer write would have cancelled this
                        }
                      });
        });
  }

  EndpointView view() {
    long next =
        pending.values().stream().filter(b -> b.timer >= 0).mapToLong(b -> b.dueAt).min().orElse(0);
    return new EndpointView(
        state,
        Optional.ofNullable(lastError),
        consecutiveFailures,
        next == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(next)),
        lastSuccessAt == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(lastSuccessAt)),
        channels.size(),
        pending.size(),
        EndpointView.Loading.LOADED);
  }

  void close() {
    closed = true;
    metrics.moved(state, null);
    pending.values().forEach(b -> engine.vertx().cancelTimer(b.timer));
    // nobody waits for a write of a closed endpoint (an operator's request answers)
    if (stateRetryTimer >= 0) {
      engine.vertx().cancelTimer(stateRetryTimer);
      stateRetryTimer = -1;
    }
    for (StateWrite w : new StateWrite[] {writing, queuedWrite}) {
      if (w != null) {
        w.firstAttempt().tryComplete();
      }
    }
    writing = null;
    queuedWrite = null;
  }
}
