package io.orderpush.gateway;

import io.orderpush.gateway.admin.AppsApi;
import io.orderpush.gateway.admin.AuditApi;
import io.orderpush.gateway.admin.Changes;
import io.orderpush.gateway.admin.Deliveries;
import io.orderpush.gateway.admin.GrantsApi;
import io.orderpush.gateway.admin.LagApi;
import io.orderpush.gateway.admin.LifecycleApi;
import io.orderpush.gateway.callback.EndpointApi;
import io.orderpush.gateway.console.ConsolePages;
import io.orderpush.gateway.http.AccessLog;
import io.orderpush.gateway.http.AppAuth;
import io.orderpush.gateway.http.AuthFailureLimiter;
import io.orderpush.gateway.http.BearerAuth;
import io.orderpush.gateway.http.Failures;
import io.orderpush.gateway.http.RequestMetrics;
import io.orderpush.gateway.ingest.EventParser;
import io.orderpush.gateway.ingest.IngestAdmission;
import io.orderpush.gateway.ingest.IngestHandler;
import io.orderpush.gateway.ops.HealthApi;
import io.orderpush.gateway.replay.ChannelsApi;
import io.orderpush.gateway.replay.ReplayHandler;
import io.orderpush.gateway.stream.StreamHandler;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;

/** The HTTP surface: every path, its auth and its body limit, in one place. */
final class Routes {

  /** Operator request bodies are small JSON objects. */
  static final long ADMIN_BODY_LIMIT = 64 * 1024;

  private final Failures failures;
  private final AccessLog accessLog = new AccessLog();
  private final RequestMetrics metered;
  private final BearerAuth admin;
  private final BearerAuth ingest;
  private final IngestHandler ingestHandler;
  private final io.vertx.core.Handler<io.vertx.ext.web.RoutingContext> ingestForwarder;
  private final IngestAdmission ingestAdmission;
  private final AppsApi appsApi;
  private final GrantsApi grantsApi;
  private final HealthApi health;
  private final StreamHandler stream;
  private final io.orderpush.gateway.ingest.CommitFeed commitFeed;
  private final AuthFailureLimiter authLimiter;
  private final EndpointApi endpoints;
  private final LagApi lag;
  private final LifecycleApi lifecycle;
  private final AppAuth appAuth;
  private final ReplayHandler replay;
  private final ChannelsApi channels;
  private final AuditApi audit;
  private final io.orderpush.gateway.drill.Drills drills;
  private final long ingestBodyLimit;

  Routes(Gateway g) {
    var sec = g.config.security();
    failures = new Failures(g.registry);
    metered = new RequestMetrics(g.registry);
    authLimiter = new AuthFailureLimiter(g.config.authLimit(), g.registry);
    commitFeed = g.commitFeed;
    admin = new BearerAuth(sec.adminToken(), "operator", authLimiter);
    ingest = new BearerAuth(sec.ingestToken(), "ingest", authLimiter);
    var limits = g.config.ingest();
    EventParser parser =
        new EventParser(
            limits.maxEvents(), limits.maxDataBytes(), limits.maxDataDepth(), g.log.masker());
    boolean forward = g.config.forward().enabled();
    // With the commit feed, a request is parsed here and its events go to the writer over the
    // feed's connection; without it, the body goes to the writer as it came, over HTTP.
    ingestHandler =
        new IngestHandler(
            parser,
            g.committer,
            forward && g.commitFeed != null ? g.commitFeed : null,
            io.orderpush.gateway.ingest.IngestForwarder.HEADER);
    ingestBodyLimit = limits.maxRequestBytes();
    ingestForwarder =
        forward && g.commitFeed == null
            ? new io.orderpush.gateway.ingest.IngestForwarder(
                g.vertx,
                g.ingestWriter::writerNode,
                g.config.control().nodeId(),
                // the writer answers every request within the PostgreSQL client timeout
                g.config.pg().clientTimeout().plusSeconds(2),
                64,
                g.registry)
            : io.vertx.ext.web.RoutingContext::next;
    ingestAdmission =
        new IngestAdmission(limits.maxInFlightBytes(), limits.maxRequestBytes(), g.registry);
    Changes changes = new Changes(g.applier, g.control);
    appsApi = new AppsApi(g.apps, g.callbacks, g.config.secretGrace(), changes);
    grantsApi = new GrantsApi(g.grants, new Deliveries(g.delivery), changes, g.appSweeps);
    endpoints = new EndpointApi(g.callbacks, g.control);
    lifecycle = new LifecycleApi(g.apps, changes, g.config.tokenGrace(), g.appSweeps);
    appAuth = new AppAuth(g.apps, authLimiter);
    replay =
        new ReplayHandler(
            g.log,
            g.replayPool,
            g.grants,
            g.config.replay().maxEvents(),
            g.config.replay().maxConcurrent(),
            g.config.replay().maxConcurrentPerApp(),
            g.config.replay().maxEventsPerSecond(),
            g.config.replay().stallTimeout(),
            g.vertx,
            g.registry,
            g.audit);
    audit = new AuditApi(g.pool, g.log, g.grants);
    channels = new ChannelsApi(g.log, g.pool, g.grants, g.delivery, changes);
    lag = new LagApi(g.lag);
    drills =
        new io.orderpush.gateway.drill.Drills(
            g.vertx,
            g.drillStore,
            g.drillProbe,
            g.committer,
            parser,
            g.apps,
            g.delivery,
            changes,
            g.config.drills(),
            g.config.control().nodeId());
    stream = new StreamHandler(g.apps, g.streams, authLimiter);
    health = new HealthApi(g.vertx, g.pool, g.redis, g.registry, g::stopping);
  }

  io.orderpush.gateway.drill.Drills drills() {
    return drills;
  }

  Router router(Vertx vertx) {
    Router r = Router.router(vertx);
    // First on every request: request id, X-Request-Id, one access line when the answer ends.
    r.route().handler(accessLog);
    r.get("/health/live").handler(health::live);
    r.get("/health/ready").handler(health::ready);
    r.get("/metrics").handler(health::metrics);

    // Auth runs before the body is read, so a caller without the token cannot make us buffer 4 MiB.
    r.post("/v1/events")
        .handler(metered.route("ingest"))
        .handler(ingest)
        .handler((io.vertx.ext.web.handler.PlatformHandler) Routes::jsonOnly)
        .handler(ingestAdmission)
        .handler(body(ingestBodyLimit))
        .handler(ingestForwarder)
        .handler(ingestHandler);

    r.get(StreamHandler.PATH).handler(metered.route("stream")).handler(stream);
    if (commitFeed != null) {
      // the nodes' commit feed: a WebSocket upgrade signed by another node of the cluster
      r.get(io.orderpush.gateway.ingest.CommitFeed.PATH)
          .handler(metered.route("commit_feed"))
          .handler(ctx -> commitFeed.upgrade(ctx, authLimiter));
    }
    r.get("/v1/merchants/:merchantId/events")
        .handler(metered.route("replay"))
        .handler(appAuth)
        .handler(replay);
    r.get("/v1/channels")
        .handler(metered.route("channels.list"))
        .handler(appAuth)
        .handler(channels::list);
    r.put("/v1/channels/:merchantId/cursor")
        .handler(metered.route("channels.cursor"))
        .handler(appAuth.beforeBody())
        .handler(body(ADMIN_BODY_LIMIT))
        .handler(channels::set);

    r.post("/v1/apps")
        .handler(metered.route("apps.create"))
        .handler(admin)
        .handler(body(ADMIN_BODY_LIMIT))
        .handler(appsApi::create);
    r.get("/v1/apps").handler(metered.route("apps.list")).handler(admin).handler(appsApi::list);
    r.get("/v1/apps/:appId")
        .handler(metered.route("apps.get"))
        .handler(admin)
        .handler(appsApi::get);
    r.post("/v1/apps/:appId/secret/rotate")
        .handler(metered.route("apps.rotate"))
        .handler(admin)
        .handler(appsApi::rotateSecret);
    r.get("/v1/lag").handler(metered.route("lag")).handler(admin).handler(lag::lag);
    r.get("/v1/apps/:appId/impact")
        .handler(metered.route("impact"))
        .handler(admin)
        .handler(lag::impact);
    r.post("/v1/apps/:appId/freeze")
        .handler(metered.route("apps.freeze"))
        .handler(admin)
        .handler(lifecycle::freeze);
    r.post("/v1/apps/:appId/unfreeze")
        .handler(metered.route("apps.unfreeze"))
        .handler(admin)
        .handler(lifecycle::unfreeze);
    r.delete("/v1/apps/:appId")
        .handler(metered.route("apps.delete"))
        .handler(admin)
        .handler(lifecycle::delete);
    r.post("/v1/apps/:appId/token/rotate")
        .handler(metered.route("apps.token.rotate"))
        .handler(admin)
        .handler(lifecycle::rotateToken);
    r.get("/v1/apps/:appId/endpoint")
        .handler(metered.route("endpoint.get"))
        .handler(admin)
        .handler(endpoints::view);
    r.post("/v1/apps/:appId/endpoint/suspend")
        .handler(metered.route("endpoint.suspend"))
        .handler(admin)
        .handler(endpoints::suspend);
    r.post("/v1/apps/:appId/endpoint/resume")
        .handler(metered.route("endpoint.resume"))
        .handler(admin)
        .handler(endpoints::resume);
    r.post("/v1/apps/:appId/endpoint/retry")
        .handler(metered.route("endpoint.retry"))
        .handler(admin)
        .handler(endpoints::retry);
    r.post("/v1/drills")
        .handler(metered.route("drills.create"))
        .handler(admin)
        .handler(body(ADMIN_BODY_LIMIT))
        .handler(drills::create);
    r.get("/v1/drills").handler(metered.route("drills.list")).handler(admin).handler(drills::list);
    r.get("/v1/drills/:drillId")
        .handler(metered.route("drills.get"))
        .handler(admin)
        .handler(drills::get);
    r.post("/v1/drills/:drillId/stop")
        .handler(metered.route("drills.stop"))
        .handler(admin)
        .handler(drills::stop);
    r.get("/v1/drills/:drillId/report")
        .handler(metered.route("drills.report"))
        .handler(admin)
        .handler(ctx -> drills.report(ctx, false));
    r.get("/v1/drills/:drillId/report.html")
        .handler(metered.route("drills.report"))
        .handler(admin)
        .handler(ctx -> drills.report(ctx, true));
    r.delete("/v1/drills/:drillId")
        .handler(metered.route("drills.delete"))
        .handler(admin)
        .handler(drills::delete);
    r.get("/v1/apps/:appId/grants")
        .handler(metered.route("grants.list"))
        .handler(admin)
        .handler(grantsApi::listForApp);
    r.put("/v1/merchants/:merchantId/grants/:appId")
        .handler(metered.route("grants.put"))
        .handler(admin)
        .handler(body(ADMIN_BODY_LIMIT))
        .handler(grantsApi::put);
    r.delete("/v1/merchants/:merchantId/grants/:appId")
        .handler(metered.route("grants.delete"))
        .handler(admin)
        .handler(grantsApi::delete);
    r.get("/v1/audit/deliveries")
        .handler(metered.route("audit.deliveries"))
        .handler(admin)
        .handler(audit::deliveries);

    // The operator console: static pages, no token (the API calls they make carry it).
    ConsolePages.mount(r);

    r.route().failureHandler(accessLog::failure);
    r.route().failureHandler(failures::handle);
    // No route matched: the router answers 404 or 405 through these.
    r.errorHandler(404, failures::handle);
    r.errorHandler(405, failures::handle);
    return r;
  }

  /**
   * Ingest reads JSON or NDJSON, whatever generic type the client labels it with: none, plain text,
   * bytes, or {@code application/x-www-form-urlencoded} (what {@code curl -d} sends). A type that
   * says it is something else (XML, a multipart form) is refused before the body is read.
   */
  static void jsonOnly(io.vertx.ext.web.RoutingContext ctx) {
    String type = ctx.request().getHeader("Content-Type");
    String base = type == null ? "" : type.split(";")[0].trim().toLowerCase(java.util.Locale.ROOT);
    if (base.equals("application/x-www-form-urlencoded")) {
      // the body handler would decode it as a form (and fail on what is not one): it is JSON
      ctx.request().headers().set("Content-Type", "application/json");
      ctx.next();
      return;
    }
    if (base.isEmpty()
        || base.equals("application/octet-stream")
        || base.equals("application/json")
        || base.equals("application/x-ndjson")
        || base.equals("application/ndjson")
        || base.equals("application/jsonl")
        || base.equals("text/plain")) {
      ctx.next();
    } else {
      Failures.send(
          ctx,
          415,
          "unsupported_media_type",
          "send application/json (an array) or application/x-ndjson, not " + base,
          null);
    }
  }

  private static BodyHandler body(long limit) {
    return BodyHandler.create(false).setBodyLimit(limit);
  }
}
