package io.orderpush.delivery.callback;

import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.channel.Channel;
import io.orderpush.delivery.channel.DeliveryEngine;
import io.orderpush.persistence.apps.App;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.Grant;
import io.orderpush.persistence.apps.GrantStore;
import io.orderpush.persistence.apps.NotFoundException;
import io.orderpush.persistence.events.EventLog;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.sqlclient.Pool;
import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
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
  private final EventLog log;
  private final Pool pool;
  private final AppStore apps;
  private final GrantStore grants;
  private final CallbackSettings settings;
  private final CallbackSender sender;
  private final CallbackMetrics metrics;
  private final SsrfGuard guard;
  private final Map<UUID, CallbackEndpoint> endpoints = new HashMap<>();

  public CallbackService(
      DeliveryEngine engine,
      EventLog log,
      Pool pool,
      AppStore apps,
      GrantStore grants,
      CallbackSettings settings,
      MeterRegistry registry) {
    this.engine = engine;
    this.log = log;
    this.pool = pool;
    this.apps = apps;
    this.grants = grants;
    this.settings = settings;
    this.guard = new SsrfGuard(engine.vertx(), settings.allowlist());
    this.sender = new CallbackSender(engine.vertx(), settings, guard);
    this.metrics = new CallbackMetrics(registry);
  }

  /** Checks a callback URL at registration against the SSRF rules. */
  public Future<Void> checkUrl(String url) {
    return guard.check(url);
  }

  /** Starts delivery for every callback app. */
  public Future<Void> start() {
    return onEngine(v -> startPage(Optional.empty()));
  }

  private Future<Void> startPage(Optional<UUID> after) {
    return apps.callbackApps(PAGE, after)
        .compose(
            page -> {
              Future<Void> all = Future.succeededFuture();
              for (App app : page) {
                all = all.compose(v -> open(app));
              }
              return all.compose(
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

  private Future<Void> open(App app) {
    if (endpoints.containsKey(app.appId()) || !"active".equals(app.state())) {
      return Future.succeededFuture();
    }
    return apps.signingSecrets(app.appId())
        .compose(
            secrets -> {
              CallbackEndpoint e =
                  new CallbackEndpoint(
                      app.appId(),
                      URI.create(app.callbackUrl().orElseThrow()),
                      app.endpointState(),
                      secrets,
                      engine,
                      log,
                      pool,
                      sender,
                      settings,
                      metrics,
                      apps);
              endpoints.put(app.appId(), e);
              return loadGrants(e, "");
            })
        .recover(
            err -> {
              // One app that cannot be served (say, a secret sealed under another key) must not
              // keep
              // every other app from being delivered to.
              LOG.error(
                  "callback delivery for app {} cannot start: {}", app.appId(), err.toString());
              return Future.succeededFuture();
            });
  }

  private Future<Void> loadGrants(CallbackEndpoint e, String after) {
    return grants
        .forApp(e.appId, PAGE, after)
        .compose(
            page -> {
              for (Grant g : page) {
                add(e, g);
              }
              return page.size() < PAGE
                  ? Future.succeededFuture()
                  : loadGrants(e, page.get(page.size() - 1).merchantId());
            });
  }

  private void add(CallbackEndpoint e, Grant g) {
    if (e.channels.containsKey(g.merchantId())) {
      return;
    }
    Channel c = new Channel(e.appId, g.merchantId(), g.resumeFrom(), g.grantedAt().toEpochMilli());
    e.channels.put(g.merchantId(), c);
    engine.add(c);
    engine.assign(c, e);
  }

  public void granted(Grant grant) {
    engine
        .context()
        .runOnContext(
            v -> {
              CallbackEndpoint e = endpoints.get(grant.appId());
              if (e != null) {
                add(e, grant);
              }
            });
  }

  public void revoked(UUID appId, String merchantId) {
    engine
        .context()
        .runOnContext(
            v -> {
              CallbackEndpoint e = endpoints.get(appId);
              Channel c = e == null ? null : e.channels.remove(merchantId);
              if (c != null) {
                e.forget(c);
                engine.remove(c);
              }
            });
  }

  public Future<EndpointView> view(UUID appId) {
    return onEngine(v -> Future.succeededFuture(endpoint(appId).view()));
  }

  public Future<EndpointView> suspend(UUID appId) {
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoint(appId);
          e.suspend();
          return Future.succeededFuture(e.view());
        });
  }

  public Future<EndpointView> resume(UUID appId) {
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoint(appId);
          e.resume();
          return Future.succeededFuture(e.view());
        });
  }

  /** Re-reads the app's signing secrets after a rotation. */
  public Future<Void> secretsChanged(UUID appId) {
    return onEngine(
        v -> {
          CallbackEndpoint e = endpoints.get(appId);
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

  private CallbackEndpoint endpoint(UUID appId) {
    CallbackEndpoint e = endpoints.get(appId);
    if (e == null) {
      throw new NotFoundException("app " + appId + " has no callback endpoint on this gateway");
    }
    return e;
  }

  public Future<Void> close() {
    return onEngine(
        v -> {
          endpoints.values().forEach(CallbackEndpoint::close);
          return sender.close();
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
