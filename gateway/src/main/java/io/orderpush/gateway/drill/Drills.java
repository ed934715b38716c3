package io.orderpush.gateway.drill;

import io.orderpush.delivery.Delivery;
import io.orderpush.delivery.control.Change;
import io.orderpush.gateway.admin.AdminJson;
import io.orderpush.gateway.admin.Changes;
import io.orderpush.gateway.config.DrillLimits;
import io.orderpush.gateway.http.ApiException;
import io.orderpush.gateway.ingest.EventParser;
import io.orderpush.persistence.apps.App;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.events.GroupCommitter;
import io.orderpush.synthetic.OrderStream;
import io.orderpush.synthetic.Population;
import io.orderpush.synthetic.Profile;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * App drills, the operator API ({@code /v1/drills}, docs/drills.md) and the drills this node runs.
 * A drill's load runs on the node that started it; any node answers for any drill, since the state
 * is in PostgreSQL and a stop is seen by the running node within a second.
 */
public final class Drills {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Drills.class);

  private final Vertx vertx;
  private final DrillStore store;
  private final DrillProbe probe;
  private final GroupCommitter committer;
  private final EventParser parser;
  private final AppStore apps;
  private final Delivery delivery;
  private final Changes changes;
  private final DrillLimits limits;
  private final String nodeId;
  private final Map<String, AppDrill> here = new ConcurrentHashMap<>();

  /**
   * Where drills run: a context of the gateway's own, taken where it is built, never an HTTP
   * verticle's (those go away at shutdown with their timers).
   */
  private final io.vertx.core.Context context;

  public Drills(
      Vertx vertx,
      DrillStore store,
      DrillProbe probe,
      GroupCommitter committer,
      EventParser ingestParser,
      AppStore apps,
      Delivery delivery,
      Changes changes,
      DrillLimits limits,
      String nodeId) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.store = store;
    this.probe = probe;
    this.committer = committer;
    this.parser = ingestParser.forSandbox();
    this.apps = apps;
    this.delivery = delivery;
    this.changes = changes;
    this.limits = limits;
    this.nodeId = nodeId;
  }

  /**
   * How long an ended drill's sandbox channels stay in Redis: a node that had not heard of the end
   * may still claim one meanwhile, and deleting the drill removes them at once.
   */
  static final java.time.Duration SANDBOX_CHANNEL_TTL = java.time.Duration.ofDays(1);

  /** Events per synthetic request: fewer at low peaks, so the normal rate is not lumpy. */
  static int batchFor(double peakRate) {
    return (int) Math.max(1, Math.min(100, Math.round(peakRate / 200)));
  }

  /** {@code POST /v1/drills}. */
  public void create(RoutingContext ctx) {
    DrillSettings s = DrillSettings.parse(AdminJson.body(ctx), limits);
    String drillId = DrillSettings.newId();
    apps.find(s.appId())
        .compose(app -> checked(app, s))
        .compose(
            app ->
                vertx
                    .executeBlocking(() -> plan(drillId, s))
                    .compose(
                        plan ->
                            store
                                .create(
                                    drillId,
                                    s.appId(),
                                    s.toJson(),
                                    nodeId,
                                    plan.population.merchants().stream()
                                        .map(Population.Merchant::id)
                                        .toList(),
                                    limits.maxRunning())
                                .compose(v -> store.find(drillId))
                                .compose(
                                    row ->
                                        changes
                                            .applyAndPublish(
                                                Change.of(Change.Kind.RESYNC, s.appId()))
                                            .map(v -> row.orElseThrow()))
                                .map(
                                    row -> {
                                      start(drillId, app, s, plan, row.getLong("startedAtMs"));
                                      return row.put("plan", plan.toJson());
                                    })))
        .onSuccess(row -> AdminJson.send(ctx, 201, row))
        .onFailure(ctx::fail);
  }

  private Future<App> checked(Optional<App> app, DrillSettings s) {
    if (app.isEmpty()) {
      return Future.failedFuture(
          new ApiException(404, "not_found", "app " + s.appId() + " does not exist"));
    }
    if (!"active".equals(app.get().state())) {
      return Future.failedFuture(
          new ApiException(409, "app_not_active", "a frozen app cannot be drilled"));
    }
    if ("suspended".equals(app.get().endpointState())) {
      return Future.failedFuture(
          new ApiException(
              409,
              "endpoint_suspended",
              "the app's callback endpoint is suspended; resume it first"));
    }
    return Future.succeededFuture(app.get());
  }

  /** The population, its stream of requests and the profile fitted to it. */
  record Plan(Population population, OrderStream orders, Profile profile, int batch) {
    JsonObject toJson() {
      return new JsonObject()
          .put("merchants", population.merchants().size())
          .put("events", population.totalEvents())
          .put("normalRate", profile.normalRate())
          .put("peakRate", profile.peakRate())
          .put("holdS", profile.holdS())
          .put("profileS", profile.totalS())
          .put("eventsPerRequest", batch);
    }
  }

  private Plan plan(String drillId, DrillSettings s) {
    Population population =
        Population.doubleEleven(s.scale(), s.tailMerchants(), s.seed(), DrillStore.prefix(drillId));
    if (population.totalEvents() > limits.maxEvents()) {
      throw new ApiException(
          400,
          "drill_too_large",
          "the population holds "
              + population.totalEvents()
              + " events, above drill.max-events ("
              + limits.maxEvents()
              + "); lower scale or tailMerchants");
    }
    double peak = Math.min(s.peakRate(), s.maxRate());
    int batch = batchFor(peak);
    long requests = (population.totalEvents() + batch - 1) / batch;
    Profile profile =
        Profile.fit(
            population.totalEvents(),
            requests,
            0,
            peak,
            s.multiplier(),
            s.normalS(),
            s.rampUpS(),
            s.rampDownS(),
            s.tailS());
    return new Plan(
        population, new OrderStream(population, batch, drillId, s.seed()), profile, batch);
  }

  private void start(String drillId, App app, DrillSettings s, Plan plan, long startedAtMs) {
    probe.watch(new DrillStore.Running(drillId, s.appId(), startedAtMs));
    DrillInfo info =
        new DrillInfo(
            drillId,
            s.appId().toString(),
            app.name(),
            app.mode().name().toLowerCase(java.util.Locale.ROOT),
            "running",
            null,
            s.scale(),
            plan.population.merchants().size(),
            plan.population.totalEvents(),
            plan.profile.normalRate(),
            plan.profile.peakRate(),
            s.multiplier(),
            s.maxRate(),
            s.maxDurationS(),
            Instant.ofEpochMilli(startedAtMs),
            null);
    AppDrill drill =
        new AppDrill(
            vertx,
            context,
            store,
            committer,
            parser,
            apps,
            s,
            info,
            plan.orders,
            plan.profile,
            startedAtMs,
            d -> {
              here.remove(d.drillId());
              changes.applyAndPublish(Change.of(Change.Kind.RESYNC, s.appId()));
              // its grants are gone: the sandbox channels leave Redis a while later, deleted or not
              delivery
                  .expireChannels(
                      s.appId(),
                      plan.population.merchants().stream().map(Population.Merchant::id).toList(),
                      SANDBOX_CHANNEL_TTL)
                  .onFailure(
                      err ->
                          LOG.warn(
                              "could not set the sandbox channels of drill {} to expire (they go"
                                  + " when the drill or the app is deleted): {}",
                              d.drillId(),
                              err.toString()));
            });
    here.put(drillId, drill);
    drill.start();
  }

  /** {@code GET /v1/drills}. */
  public void list(RoutingContext ctx) {
    store
        .list(100)
        .onSuccess(l -> AdminJson.send(ctx, 200, new JsonObject().put("drills", new JsonArray(l))))
        .onFailure(ctx::fail);
  }

  /** {@code GET /v1/drills/:drillId}: the drill, with its figures so far while it runs. */
  public void get(RoutingContext ctx) {
    String id = drillId(ctx);
    store
        .find(id)
        .compose(
            row -> {
              if (row.isEmpty()) {
                return Future.failedFuture(notFound(id));
              }
              if (!"running".equals(row.get().getString("state"))) {
                return Future.succeededFuture(row.get());
              }
              return store
                  .samples(id)
                  .map(samples -> row.get().put("live", live(bySecond(samples))));
            })
        .onSuccess(row -> AdminJson.send(ctx, 200, row))
        .onFailure(ctx::fail);
  }

  static JsonObject live(List<DrillSecond> seconds) {
    long offered = 0;
    long acked = 0;
    for (DrillSecond s : seconds) {
      offered += s.offered();
      acked += s.acked();
    }
    DrillSecond last = seconds.isEmpty() ? null : seconds.get(seconds.size() - 1);
    return new JsonObject()
        .put("seconds", seconds.size())
        .put("phase", last == null ? null : last.phase())
        .put("offered", offered)
        .put("acked", acked)
        .put("lag", Math.max(0, offered - acked))
        .put("offeredLastSecond", last == null ? 0 : last.offered())
        .put("ackedLastSecond", last == null ? 0 : last.acked());
  }

  /** {@code POST /v1/drills/:drillId/stop}: no more load, and its merchants' grants revoked. */
  public void stop(RoutingContext ctx) {
    String id = drillId(ctx);
    store
        .stop(id, "stopped by an operator")
        .compose(
            app -> {
              if (app.isEmpty()) {
                return store
                    .find(id)
                    .compose(
                        row ->
                            Future.failedFuture(
                                row.isEmpty()
                                    ? notFound(id)
                                    : new ApiException(
                                        409, "not_running", "drill " + id + " is not running")));
              }
              AppDrill d = here.get(id);
              if (d != null) {
                d.stopNow();
              }
              return changes
                  .applyAndPublish(Change.of(Change.Kind.RESYNC, app.get()))
                  .compose(v -> store.find(id))
                  .map(Optional::orElseThrow);
            })
        .onSuccess(row -> AdminJson.send(ctx, 200, row))
        .onFailure(ctx::fail);
  }

  /** {@code GET /v1/drills/:drillId/report} (Markdown) and {@code .../report.html}. */
  public void report(RoutingContext ctx, boolean html) {
    String id = drillId(ctx);
    store
        .report(id, html)
        .compose(
            r ->
                r.isPresent()
                    ? Future.succeededFuture(r.get())
                    : store
                        .state(id)
                        .compose(
                            state ->
                                Future.<String>failedFuture(
                                    state.isEmpty()
                                        ? notFound(id)
                                        : new ApiException(
                                            409,
                                            "report_not_ready",
                                            "drill "
                                                + id
                                                + " is "
                                                + state.get()
                                                + "; its report is written when it ends"))))
        .onSuccess(
            text ->
                ctx.response()
                    .putHeader(
                        "Content-Type",
                        html ? "text/html; charset=utf-8" : "text/markdown; charset=utf-8")
                    .end(text))
        .onFailure(ctx::fail);
  }

  /**
   * {@code DELETE /v1/drills/:drillId}: stops it if it runs and removes it with everything of its
   * merchants, in PostgreSQL and in Redis.
   */
  public void delete(RoutingContext ctx) {
    String id = drillId(ctx);
    store
        .merchants(id)
        .compose(
            merchants ->
                store
                    .delete(id)
                    .compose(
                        app -> {
                          if (app.isEmpty()) {
                            return Future.failedFuture(notFound(id));
                          }
                          AppDrill d = here.get(id);
                          if (d != null) {
                            d.stopNow();
                          }
                          return changes
                              .applyAndPublish(Change.of(Change.Kind.RESYNC, app.get()))
                              .compose(v -> delivery.forget(app.get(), merchants));
                        }))
        .onSuccess(v -> ctx.response().setStatusCode(204).end())
        .onFailure(ctx::fail);
  }

  /** Seconds without load written after which a running drill is failed (its node is gone). */
  static final int STALE_S = 30;

  static final long SWEEP_MS = 10_000;

  private long sweepTimer = -1;

  /**
   * At start, and every {@link #SWEEP_MS}: drills whose load is gone (this node's from before it
   * restarted, or any whose node stopped writing) are failed and their grants revoked.
   */
  public void start() {
    sweep(nodeId);
    sweepTimer = vertx.setPeriodic(SWEEP_MS, SWEEP_MS, t -> sweep(null));
  }

  private void sweep(String restarted) {
    store
        .failOrphans(restarted, STALE_S)
        .onSuccess(
            apps -> apps.forEach(a -> changes.applyAndPublish(Change.of(Change.Kind.RESYNC, a))))
        .onFailure(err -> LOG.warn("could not check for orphaned drills: {}", err.toString()));
  }

  /** At shutdown: the drills running here stop (with their report) and the probe writes. */
  public Future<Void> stop() {
    vertx.cancelTimer(sweepTimer);
    // no time for a report at shutdown: stopped, grants revoked, the samples so far kept
    List<Future<?>> stopped = new ArrayList<>();
    here.values()
        .forEach(
            d -> {
              d.stopNow();
              stopped.add(store.stop(d.drillId(), "the node running the drill shut down"));
            });
    return Future.join(stopped).transform(v -> probe.stop());
  }

  private static String drillId(RoutingContext ctx) {
    String id = ctx.pathParam("drillId");
    if (id == null || !id.matches("[a-z0-9]{1,16}")) {
      throw notFound(String.valueOf(id));
    }
    return id;
  }

  private static ApiException notFound(String id) {
    return new ApiException(404, "not_found", "drill " + id + " does not exist");
  }

  /**
   * Adds the nodes' rows up, second by second: acks, latencies and answers from every node; the
   * target, offered rate and phase from the load's own row.
   */
  static List<DrillSecond> bySecond(List<DrillSecond> rows) {
    TreeMap<Integer, List<DrillSecond>> byT = new TreeMap<>();
    rows.forEach(r -> byT.computeIfAbsent(r.t(), k -> new ArrayList<>()).add(r));
    List<DrillSecond> out = new ArrayList<>();
    if (byT.isEmpty()) {
      return out;
    }
    for (int t = 0; t <= byT.lastKey(); t++) {
      String phase = "drain";
      double target = 0;
      long offered = 0;
      long acked = 0;
      LatencyBuckets sandbox = new LatencyBuckets();
      LatencyBuckets real = new LatencyBuckets();
      Map<String, Long> statuses = new TreeMap<>();
      long retries = 0;
      long connections = 0;
      long timeouts = 0;
      for (DrillSecond r : byT.getOrDefault(t, List.of())) {
        if (!r.phase().isEmpty()) {
          phase = r.phase();
        }
        target += r.target();
        offered += r.offered();
        acked += r.acked();
        sandbox.add(r.sandboxLatency());
        real.add(r.realLatency());
        r.statuses().forEach((k, v) -> statuses.merge(k, v, Long::sum));
        retries += r.retries();
        connections += r.connections();
        timeouts += r.ackTimeouts();
      }
      out.add(
          new DrillSecond(
              t,
              phase,
              target,
              offered,
              acked,
              sandbox,
              real,
              statuses,
              retries,
              connections,
              timeouts));
    }
    return out;
  }
}
