package io.orderpush.delivery.callback;

import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.channel.Channel;
import io.orderpush.delivery.channel.DeliveryEngine;
import io.orderpush.delivery.channel.GrantReads;
import io.orderpush.persistence.Futures;
import io.orderpush.persistence.apps.App;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.Grant;
import io.orderpush.persistence.apps.GrantStore;
import io.orderpush.persistence.apps.NotFoundException;
import io.orderpush.persistence.apps.SecretUnreadableException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.net.URI;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * HTTP callback delivery: one {@link CallbackEndpoint} per callback app, owning all its channels on
 * this node. Endpoints live on the delivery engine's context; the public methods may be called from
 * any thread.
 */
public final class CallbackService {

  static final int PAGE = 1000;
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(CallbackService.class);

  private final DeliveryEngine engine;
  private final AppStore apps;
  private final GrantStore grants;
  private final CallbackSettings settings;
  private final CallbackSender sender;
  private final CallbackMetrics metrics;
  private final SsrfGuard guard;
  private final Map<UUID, CallbackEndpoint> endpoints = new HashMap<>();

  /**
   * When (System.nanoTime) this node last stopped each app (frozen, deleted), for a while: a read
   * of the app as active that started before is older than the stop and opens nothing. Engine
   * context only.
   */
  private final Map<UUID, Long> stoppedAt = new HashMap<>();

  static final long STOPPED_MEMORY_MS = 120_000;

  /**
   * Apps' POSTs still out for batches no channel tracks any more, kept across the app's endpoints
   * here (a freeze and unfreeze builds a new one while the old one's POSTs are out); an entry goes
   * once its POSTs are answered and the app has no endpoint here. Engine context only.
   */
  private final Map<UUID, CallbackEndpoint.Unanswered> unanswered = new HashMap<>();

  private CallbackEndpoint.Unanswered unansweredOf(UUID appId) {
    return unanswered.computeIfAbsent(
        appId, id -> new CallbackEndpoint.Unanswered(u -> unanswered.remove(id, u)));
  }

  /** Apps not fully loaded yet (PostgreSQL failed while loading them), retried with backoff. */
  private final Map<UUID, EndpointLoader> loading = new HashMap<>();

  /** Apps whose secret cannot be opened with the configured key. */
  private final Set<UUID> unreadable = new HashSet<>();

  /** Told of each suspension an endpoint made on a {@code 410}, once stored. */
  private volatile java.util.function.Consumer<UUID> goneListener = id -> {};

  private boolean started;

  /** The cluster's live nodes decide which channels are this node's; null: all of them. */
  private io.orderpush.delivery.cluster.NodeLease lease;

  public CallbackService(
      DeliveryEngine engine,
      AppStore apps,
      GrantStore grants,
      CallbackSettings settings,
      MeterRegistry registry) {
    this.engine = engine;
    this.apps = apps;
    this.grants = grants;
    this.settings = settings;
    this.guard = new SsrfGuard(engine.vertx(), settings.allowlist());
    this.sender = new CallbackSender(engine.vertx(), settings, guard);
    this.metrics = new CallbackMetrics(registry);
  }

  /**
   * Delivers only this node's share of every app's channels from now on: a channel is this node's
   * when rendezvous hashing of (app, merchant) over the live nodes picks it, so every node computes
   * the same owner from the same view, and a node coming or going moves only its own share. Call
   * before {@link #start}.
   */
  public void useLease(io.orderpush.delivery.cluster.NodeLease lease) {
    this.lease = lease;
    lease.listen(
        new io.orderpush.delivery.cluster.NodeLease.Listener() {
          @Override
          public void viewChanged() {
            nodesChanged();
          }

          @Override
          public void gained() {
            nodesChanged();
          }
        });
  }

  private boolean mine(UUID appId, String merchantId) {
    return lease == null
        || lease
            .settings()
            .nodeId()
            .equals(
                io.orderpush.delivery.cluster.Rendezvous.owner(appId, merchantId, lease.nodeIds()));
  }

  /** The live nodes changed: take up the channels now ours, let go of those now another's. */
  private void nodesChanged() {
    int taken = 0;
    int given = 0;
    for (CallbackEndpoint e : endpoints.values()) {
      for (Channel c : e.channels.values()) {
        boolean mine = mine(e.appId, c.merchantId());
        if (mine && c.owner() == null) {
          engine.assign(c, e);
          taken++;
        } else if (!mine && c.owner() == e) {
          engine.release(c); // in Redis once a POST in flight is answered
          e.forget(c);
          given++;
        }
      }
    }
    if (taken + given > 0) {
      LOG.info(
          "callback channels moved with the live nodes {}: {} taken up here, {} let go",
          lease.nodeIds(),
          taken,
          given);
    }
  }

  /** Checks a callback URL at registration against the SSRF rules. */
  public Future<Void> checkUrl(String url) {
    return guard.check(url);
  }

  /**
   * Starts delivery for every callback app. An app that cannot be loaded yet (PostgreSQL failed) is
   * retried with backoff until it is; one whose secret cannot be opened with the configured key is
   * skipped, and all such apps are reported once, with a count.
   */
  public Future<Void> start() {
    return onEngine(
        v ->
            startPage(Optional.empty())
                .onSuccess(
                    ignored -> {
                      if (!unreadable.isEmpty()) {
                        LOG.warn(
                            "{} callback app(s) are not delivered to: their webhook secrets cannot"
                                + " be opened with the configured GATEWAY_SECRET_KEY (sealed under"
                                + " another key), e.g. app {}; gauge"
                                + " gateway_callback_endpoints_unreadable",
                            unreadable.size(),
                            unreadable.iterator().next());
                      }
                      started = true;
                    }));
  }

  private Future<Void> startPage(Optional<UUID> after) {
    return apps.callbackApps(PAGE, after)
        .compose(
            page -> {
              return Futures.sequentially(page, this::open)
                  .compose(
                      v ->
                          page.size() < PAGE
                              ? Future.succeededFuture()
                              : startPage(Optional.of(page.get(page.size() - 1).appId())));
            });
  }

  /** A new callback app: deliver to it from now on. */
  public Future<Void> appCreated(App app) {
    return onEngine(v -> open(app));
  }

  /** Completes after the first attempt to load the app, whether or not it succeeded. */
  private Future<Void> open(App app) {
    if (endpoints.containsKey(app.appId())
        || loading.containsKey(app.appId())
        || !"active".equals(app.state())) {
      return Future.succeededFuture();
    }
    EndpointLoader l = new EndpointLoader(app);
    loading.put(app.appId(), l);
    metrics.loading.set(loading.size());
    return load(l);
  }

  /** Loads the secrets (once), then the grants page by page from where the last attempt stopped. */
  private Future<Void> load(EndpointLoader l) {
    UUID appId = l.app.appId();
    Future<CallbackEndpoint> endpoint =
        endpoints.containsKey(appId)
            ? Future.succeededFuture(endpoints.get(appId))
            : apps.signingSecrets(appId)
                .map(
                    secrets -> {
                      if (loading.get(appId) != l) {
                        // stopped (frozen, deleted) while the secrets were read
                        throw new IllegalStateException("app " + appId + " stopped while loading");
                      }
                      CallbackEndpoint e =
                          new CallbackEndpoint(
                              appId,
                              URI.create(l.app.callbackUrl().orElseThrow()),
                              l.app.endpointState(),
                              secrets,
                              engine,
                              sender,
                              settings,
                              metrics,
                              apps,
                              id -> goneListener.accept(id),
                              unansweredOf(appId));
                      endpoints.put(appId, e);
                      return e;
                    });
    return endpoint
        .compose(e -> loadGrants(e, l))
        .<Void>map(
            v -> {
              loading.remove(appId, l);
              metrics.loading.set(loading.size());
              if (unreadable.remove(appId)) { // its secret was rotated under the key of this node
                metrics.unreadable.set(unreadable.size());
                LOG.info("callback app {} can be delivered to again", appId);
              }
              if (l.attempts > 0) {
                LOG.info(
                    "callback delivery for app {} started after {} retries", appId, l.attempts);
              }
              return null;
            })
        .recover(
            err -> {
              if (loading.get(appId) != l) {
                return Future.succeededFuture(); // closed or removed meanwhile
              }
              if (err instanceof SecretUnreadableException) {
                loading.remove(appId);
                metrics.loading.set(loading.size());
                unreadable.add(appId);
                metrics.unreadable.set(unreadable.size());
                if (started) {
                  LOG.warn("callback app {} cannot be delivered to: {}", appId, err.getMessage());
                }
              } else if (err instanceof NotFoundException) {
                loading.remove(appId); // deleted meanwhile
                metrics.loading.set(loading.size());
              } else {
                retryLater(l, err);
              }
              return Future.succeededFuture();
            });
  }

  private void retryLater(EndpointLoader l, Throwable err) {
    long delay = l.failed(err, System.currentTimeMillis());
    metrics.loadFailures.increment();
    LOG.warn(
        "loading callback app {} failed (attempt {}), retrying in {} ms: {}",
        l.app.appId(),
        l.attempts,
        delay,
        err.toString());
    l.timer =
        engine
            .vertx()
            .setTimer(
                delay,
                id -> {
                  l.timer = -1;
                  if (loading.get(l.app.appId()) == l) {
                    load(l);
                  }
                });
  }

  private Future<Void> loadGrants(CallbackEndpoint e, EndpointLoader l) {
    GrantReads reads = engine.grantReads();
    long mark = reads.start();
    return grants
        .forApp(e.appId, PAGE, l.grantsAfter)
        .map(
            page -> {
              for (Grant g : page) {
                // not one revoked (or granted anew) here since the page was read
                if (reads.apply(e.appId, g.merchantId(), mark)) {
                  add(e, g);
                }
              }
              return page;
            })
        .andThen(ar -> reads.end(mark))
        .compose(
            page -> {
              if (page.size() < PAGE) {
                return Future.succeededFuture();
              }
              l.grantsAfter = page.get(page.size() - 1).merchantId();
              return loadGrants(e, l);
            });
  }

  private void add(CallbackEndpoint e, Grant g) {
    if (endpoints.get(e.appId) != e) {
      return;
    }
    Channel known = e.channels.get(g.merchantId());
    if (known != null) {
      // a grant made again: its scopes or event types may have changed
      known.scopes(g.scopes());
      known.eventTypes(g.eventTypes());
      engine.wake(known);
      return;
    }
    Channel c =
        new Channel(
            e.appId, g.merchantId(), g.resumeFrom(), g.grantedAt().toEpochMilli(), g.scopes());
    c.eventTypes(g.eventTypes());
    e.channels.put(g.merchantId(), c);
    engine.add(c);
    if (mine(e.appId, g.merchantId())) {
      engine.assign(c, e);
    }
  }

  /**
   * A merchant granted the app, as read at {@code mark} ({@link GrantReads#start}): unless a later
   * read was applied to it, the endpoint here gets its channel. Any thread.
   */
  public Future<Void> granted(Grant grant, long mark) {
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoints.get(grant.appId());
          if (e != null && engine.grantReads().apply(grant.appId(), grant.merchantId(), mark)) {
            Channel c = e.channels.get(grant.merchantId());
            if (c != null && c.grantVersion() != grant.grantedAt().toEpochMilli()) {
              drop(e, c); // revoked and granted again elsewhere: a new channel
            }
            add(e, grant);
          }
          return Future.succeededFuture();
        });
  }

  private Future<Void> drop(CallbackEndpoint e, Channel c) {
    e.channels.remove(c.merchantId());
    Future<Void> released = engine.remove(c); // first: a POST in flight delays the release
    e.forget(c);
    return released;
  }

  /**
   * The app was frozen or deleted: its endpoint here stops at once (retries cancelled, nothing more
   * read; a POST already on the wire cannot be called back) and lets go of its channels. Cursors
   * stay where the acks left them, so {@link #appActive} resumes from them. Any thread.
   */
  public Future<Void> appStopped(UUID appId) {
    return onEngine(
        v -> {
          long at = System.nanoTime();
          stoppedAt.put(appId, at);
          // a read of the app that started before now has ended (or timed out) by then
          engine.vertx().setTimer(STOPPED_MEMORY_MS, t -> stoppedAt.remove(appId, at));
          EndpointLoader l = loading.remove(appId);
          if (l != null) {
            engine.vertx().cancelTimer(l.timer);
            metrics.loading.set(loading.size());
          }
          if (unreadable.remove(appId)) {
            metrics.unreadable.set(unreadable.size());
          }
          CallbackEndpoint e = endpoints.remove(appId);
          if (e != null) {
            List.copyOf(e.channels.values()).forEach(c -> drop(e, c));
            e.close();
            CallbackEndpoint.Unanswered u = unanswered.get(appId);
            if (u != null) {
              u.endpointClosed(e);
              if (u.isEmpty()) {
                unanswered.remove(appId, u);
              }
            }
          }
          return Future.succeededFuture();
        });
  }

  /**
   * The app is active as stored: a callback app gets its endpoint here if it had none (after an
   * unfreeze, or created on another node), else the endpoint follows the stored suspension and
   * re-reads its signing secrets. {@code readAt} (System.nanoTime) is when the read of {@code app}
   * started: the endpoint ignores a state read before its own latest state write landed. Any
   * thread.
   */
  public Future<Void> appActive(App app, long readAt) {
    if (app.mode() != io.orderpush.persistence.apps.DeliveryMode.CALLBACK) {
      return Future.succeededFuture();
    }
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoints.get(app.appId());
          if (e == null) {
            Long stopped = stoppedAt.get(app.appId());
            if (stopped != null && stopped - readAt > 0) {
              return Future.succeededFuture(); // read before this node stopped the app: stale
            }
            return open(app);
          }
          e.follow(app.endpointState(), readAt);
          return secretsChanged(app.appId());
        });
  }

  /**
   * Brings the endpoint's channels here in line with the stored grants (a grant change whose notice
   * this node missed). Any thread.
   */
  public Future<Void> resync(UUID appId) {
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoints.get(appId);
          if (e == null) {
            return Future.succeededFuture();
          }
          List<Grant> all = new java.util.ArrayList<>();
          GrantReads reads = engine.grantReads();
          long mark = reads.start();
          return grantsInto(appId, "", all)
              .<Void>map(
                  x -> {
                    if (endpoints.get(appId) != e) {
                      return null; // stopped meanwhile
                    }
                    Map<String, Grant> stored = new HashMap<>();
                    all.forEach(g -> stored.put(g.merchantId(), g));
                    // a grant or revoke applied here since the read started is newer
                    for (Channel c : List.copyOf(e.channels.values())) {
                      Grant g = stored.get(c.merchantId());
                      if ((g == null || g.grantedAt().toEpochMilli() != c.grantVersion())
                          && reads.apply(appId, c.merchantId(), mark)) {
                        drop(e, c);
                      }
                    }
                    for (Grant g : all) {
                      if (reads.apply(appId, g.merchantId(), mark)) {
                        add(e, g);
                      }
                    }
                    return null;
                  })
              .andThen(ar -> reads.end(mark));
        });
  }

  private Future<Void> grantsInto(UUID appId, String after, List<Grant> into) {
    return grants
        .forApp(appId, PAGE, after)
        .compose(
            page -> {
              into.addAll(page);
              return page.size() < PAGE
                  ? Future.succeededFuture()
                  : grantsInto(appId, page.get(page.size() - 1).merchantId(), into);
            });
  }

  /**
   * A merchant revoked the app, as read at {@code mark}: unless a later read was applied to it, its
   * channel here stops. Any thread.
   */
  public Future<Void> revoked(UUID appId, String merchantId, long mark) {
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoints.get(appId);
          Channel c = e == null ? null : e.channels.get(merchantId);
          if (c != null && engine.grantReads().apply(appId, merchantId, mark)) {
            drop(e, c);
          }
          return Future.succeededFuture();
        });
  }

  public Future<EndpointView> view(UUID appId) {
    return onEngine(
        v -> {
          EndpointLoader l = loading.get(appId);
          CallbackEndpoint e = endpoints.get(appId);
          if (l != null) {
            return Future.succeededFuture(
                l.view(e == null ? Optional.empty() : Optional.of(e.view())));
          }
          if (unreadable.contains(appId)) {
            return Future.succeededFuture(EndpointLoader.unreadableView());
          }
          return Future.succeededFuture(endpoint(appId).view());
        });
  }

  /**
   * Tells {@code listener} (any thread) the app's id each time an endpoint of this node suspends
   * itself on a {@code 410 Gone} and has stored it, so the other nodes can be told at once.
   */
  public void onGone(java.util.function.Consumer<UUID> listener) {
    goneListener = listener;
  }

  /**
   * Suspends the app's endpoint here and stores it; {@code stored} runs once it is stored (to tell
   * the other nodes), on the first attempt or a retry. Fails with {@link
   * EndpointStateNotStoredException} if the first attempt failed: suspended here, not yet stored.
   */
  public Future<EndpointView> suspend(UUID appId, Runnable stored) {
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoint(appId);
          return e.suspend(stored).map(x -> e.view());
        });
  }

  /** As {@link #suspend}, back to active. */
  public Future<EndpointView> resume(UUID appId, Runnable stored) {
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoint(appId);
          return e.resume(stored).map(x -> e.view());
        });
  }

  /**
   * Sends every waiting batch of the app's endpoint again now, its backoff starting over. Fails
   * with {@link EndpointSuspendedException} while the endpoint is suspended.
   */
  public Future<EndpointView> retryNow(UUID appId) {
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoint(appId);
          if (!e.retryNow()) {
            throw new EndpointSuspendedException(
                "the endpoint of app " + appId + " is suspended: resume it to deliver again");
          }
          return Future.succeededFuture(e.view());
        });
  }

  /** Re-reads the app's signing secrets after a rotation. */
  public Future<Void> secretsChanged(UUID appId) {
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoints.get(appId);
          if (e == null && unreadable.contains(appId)) {
            reopen(appId); // not waited for: the rotation's answer must not wait for every grant
            return Future.succeededFuture();
          }
          return e == null
              ? Future.succeededFuture()
              : apps.signingSecrets(appId)
                  .map(
                      secrets -> {
                        e.secrets(secrets);
                        return null;
                      });
        });
  }

  /**
   * Opens again an app whose secret could not be opened: a rotation may have sealed the new one
   * under this node's key. Checked again on the engine once the app is read, so an app frozen or
   * deleted meanwhile ({@link #appStopped} clears the mark) stays closed. Engine context.
   */
  private void reopen(UUID appId) {
    apps.find(appId)
        .compose(
            app ->
                onEngine(
                    x ->
                        app.isPresent()
                                && unreadable.contains(appId)
                                && !endpoints.containsKey(appId)
                            ? open(app.get())
                            : Future.succeededFuture()))
        .onFailure(
            err ->
                LOG.warn(
                    "could not open callback app {} again after its secret was rotated (it opens"
                        + " at the next restart or change notice): {}",
                    appId,
                    err.toString()));
  }

  private CallbackEndpoint endpoint(UUID appId) {
    CallbackEndpoint e = endpoints.get(appId);
    if (e == null) {
      throw new NotFoundException("app " + appId + " has no callback endpoint on this gateway");
    }
    return e;
  }

  /**
   * Stops: nothing more is sent; every channel is released in Redis once its POST in flight (if
   * any) is answered, waiting at most the request timeout, so the other nodes take over at once.
   */
  public Future<Void> close() {
    return onEngine(
        v -> {
          loading.values().forEach(l -> engine.vertx().cancelTimer(l.timer));
          loading.clear();
          List<Future<Void>> released = new java.util.ArrayList<>();
          for (CallbackEndpoint e : endpoints.values()) {
            for (Channel c : List.copyOf(e.channels.values())) {
              if (c.owner() == e) {
                released.add(engine.release(c));
                e.forget(c);
              }
            }
            e.close();
          }
          return Future.join(released)
              .timeout(settings.requestTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS)
              .otherwiseEmpty()
              .transform(x -> sender.close());
        });
  }

  private <T> Future<T> onEngine(Function<Void, Future<T>> work) {
    Promise<T> p = Promise.promise();
    engine
        .context()
        .runOnContext(
            v -> {
              try {
                work.apply(null).onComplete(p);
              } catch (RuntimeException e) {
                p.fail(e);
              }
            });
    return p.future();
  }
}
