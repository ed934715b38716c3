package io.orderpush.gateway;

import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.orderpush.delivery.Delivery;
import io.orderpush.delivery.callback.CallbackService;
import io.orderpush.delivery.control.Change;
import io.orderpush.delivery.control.ControlChanges;
import io.orderpush.delivery.lag.LagMetrics;
import io.orderpush.delivery.lag.LagQuery;
import io.orderpush.delivery.websocket.StreamService;
import io.orderpush.gateway.admin.ChangeApplier;
import io.orderpush.gateway.admin.Deliveries;
import io.orderpush.gateway.config.GatewayConfig;
import io.orderpush.gateway.http.HttpVerticle;
import io.orderpush.gateway.http.StartingServer;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.GrantStore;
import io.orderpush.persistence.apps.SecretCipher;
import io.orderpush.persistence.audit.AuditLog;
import io.orderpush.persistence.audit.AuditStore;
import io.orderpush.persistence.audit.AuditWriter;
import io.orderpush.persistence.events.EventLog;
import io.orderpush.persistence.events.GroupCommitter;
import io.orderpush.persistence.events.PartitionMaintainer;
import io.orderpush.persistence.masking.Masker;
import io.orderpush.persistence.pg.ClusterChore;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.pg.SchemaMigrations;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.sqlclient.Pool;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running gateway: owns Vert.x, the pools, Redis, the stores and the HTTP verticles, and starts
 * and stops them in order. {@link Main} is a thin shell around it; tests start it in-process.
 */
public final class Gateway {

  private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);

  static {
    // Logback loads what renders an exception the first time one is logged. An event loop deep in
    // a cascade of future completions (a stop failing a long chain at once) overflowed its stack
    // loading it; the class was then unusable, the next exception logged threw out of Netty's
    // task loop and ended the event loop's thread, and the gateway never finished stopping. So one
    // exception is rendered up front, where the stack is shallow, loading all of it.
    try {
      Class<?> proxy = Class.forName("ch.qos.logback.classic.spi.ThrowableProxy");
      Object rendered =
          proxy
              .getConstructor(Throwable.class)
              .newInstance(new IllegalStateException("loaded", new IllegalStateException()));
      Class.forName("ch.qos.logback.classic.spi.ThrowableProxyUtil")
          .getMethod("asString", Class.forName("ch.qos.logback.classic.spi.IThrowableProxy"))
          .invoke(null, rendered);
    } catch (ReflectiveOperationException | LinkageError notLogback) {
      // another logging backend: nothing to load
    }
  }

  private static final long PARTITION_CHECK_MS = TimeUnit.HOURS.toMillis(1);

  final GatewayConfig config;
  final Vertx vertx;
  final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  final EventLog log;
  Pool pool;
  Pool writers;
  RedisStore redis;
  AppStore apps;
  GrantStore grants;
  GroupCommitter committer;
  Pool deliveryPool;
  Pool replayPool;
  Delivery delivery;
  StreamService streams;
  CallbackService callbacks;
  ControlChanges control;
  RedisStore leaseRedis;
  ChangeApplier applier;
  LagQuery lag;
  io.orderpush.gateway.drill.DrillStore drillStore;
  io.orderpush.gateway.drill.DrillProbe drillProbe;
  io.orderpush.gateway.drill.Drills drills;
  io.orderpush.gateway.admin.AppSweeps appSweeps;
  io.orderpush.gateway.ingest.IngestWriter ingestWriter;
  io.orderpush.gateway.ingest.CommitFeed commitFeed; // null when ingest.commit-feed is off
  AuditLog audit = AuditLog.DISABLED;
  Pool auditPool;
  private String auditDeployment;
  private PartitionMaintainer auditPartitions;
  private String httpDeployment;
  private long lagTimer = -1;
  private long partitionTimer = -1;
  private Future<Void> firstMaintenance = Future.succeededFuture();
  // answers on the port until the real server listens
  private StartingServer starting;
  // gateway.partitions.days.ahead per table, NaN until read
  private final Map<String, Double> partitionDaysAhead =
      new java.util.concurrent.ConcurrentHashMap<>();
  private long dependencyTimer = -1;
  private final java.util.concurrent.atomic.AtomicInteger pgUp =
      new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.AtomicInteger redisUp =
      new java.util.concurrent.atomic.AtomicInteger();

  private Gateway(GatewayConfig config) {
    this.config = config;
    this.log = new EventLog(new Masker(config.masking()), config.retentionDays());
    this.vertx =
        Vertx.vertx(
            new VertxOptions()
                .setPreferNativeTransport(true)
                .setEventLoopPoolSize(config.http().eventLoopThreads()));
  }

  /**
   * Migrates the schema (blocking JDBC), then brings everything up. Meanwhile the port answers
   * {@code /health/live} and 503 to the rest ({@link StartingServer}). Call from a plain thread,
   * never from an event loop.
   */
  public static Future<Gateway> start(GatewayConfig config) {
    Gateway g = new Gateway(config);
    try {
      g.starting = await(StartingServer.open(config.http()));
      LOG.info("starting: {}:{} answers /health/live", config.http().host(), config.http().port());
      if (config.security().keyDerived()) {
        LOG.warn(
            "GATEWAY_SECRET_KEY is not set: webhook secrets are sealed under a key derived from"
                + " the admin token, so changing the admin token makes them unreadable; give the"
                + " gateway a key of its own (32 random bytes, base64) and run reseal");
      }
      if (config.security().shortTokens()) {
        LOG.warn(
            "the admin or ingest token is shorter than {} characters: use long random tokens",
            io.orderpush.gateway.config.SecurityConfig.ADVISED_TOKEN_LENGTH);
      }
      LOG.info("migrating schema on {}", config.pg().redacted());
      var migrated = SchemaMigrations.apply(config.pg());
      LOG.info(
          "schema at version {}",
          migrated.targetSchemaVersion != null ? migrated.targetSchemaVersion : "current");
    } catch (RuntimeException e) {
      await(g.closeStarting().otherwiseEmpty());
      await(g.stop().otherwiseEmpty());
      throw e;
    }
    LOG.info(
        "masking personal data at {} (masking rules fingerprint {})",
        config.masking().canonical(),
        config.masking().fingerprint());
    // composed, so that bringUp throwing at once fails the future and still closes everything
    return Future.<Void>succeededFuture()
        .compose(v -> g.bringUp())
        .map(g)
        .recover(
            err ->
                g.closeStarting()
                    .transform(x -> g.stop())
                    .transform(ignored -> Future.failedFuture(err)));
  }

  /** Waits for {@code f} on the starting thread (never an event loop). */
  private static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new IllegalStateException(e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("timed out", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private Future<Void> bringUp() {
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    var pg = config.pg();
    pool = PgPools.create(vertx, pg, "gateway", pg.poolSize(), 1024);
    writers = PgPools.create(vertx, pg, "ingest-writers", pg.writers(), pg.writers() * 4);
    apps = new AppStore(pool, secretCipher(config));
    grants = new GrantStore(pool);
    var ingest = config.ingest();
    committer =
        new GroupCommitter(
            vertx,
            writers,
            log,
            new GroupCommitter.Settings(
                pg.writers(),
                ingest.maxGroupEvents(),
                ingest.maxQueuedEvents(),
                pg.clientTimeout()),
            registry);
    deliveryPool = PgPools.create(vertx, pg, "delivery", config.deliveryPoolSize(), 100_000);
    // Replays read apart from delivery, so one app replaying millions of events never queues
    // other apps' deliveries; each replay has at most one read in flight.
    replayPool =
        PgPools.create(
            vertx, pg, "replay", config.replay().poolSize(), config.replay().maxConcurrent());
    PartitionMaintainer partitions = new PartitionMaintainer(pool, config.partitionsAheadDays());
    auditPartitions =
        new PartitionMaintainer(pool, config.partitionsAheadDays(), AuditStore.TABLES);
    return partitions
        .ensurePartitions()
        .compose(v -> startAudit())
        // The lease's heartbeats on a connection of their own: never queued behind a burst of
        // claims or acks on the shared one (a renewal stuck there would cost the lease).
        .compose(v -> RedisStore.connect(vertx, config.redis()))
        .compose(
            r -> {
              leaseRedis = r;
              return RedisStore.connect(vertx, config.redis());
            })
        .compose(
            r -> {
              redis = r;
              delivery =
                  new Delivery(
                      vertx,
                      pool,
                      deliveryPool,
                      log,
                      redis,
                      leaseRedis,
                      apps,
                      grants,
                      audit,
                      new Delivery.Settings(
                          config.delivery(),
                          config.stream(),
                          config.callback(),
                          config.cluster(),
                          config.control().nodeId(),
                          // named after the control channel, so one cluster shares it
                          config.control().channel() + ":heads",
                          config.lagMaxScannedEvents()),
                      registry);
              // App drills: every node reports what it sees of a drilled app (docs/drills.md).
              drillStore = new io.orderpush.gateway.drill.DrillStore(pool);
              drillProbe =
                  new io.orderpush.gateway.drill.DrillProbe(
                      vertx, drillStore, config.control().nodeId(), registry);
              delivery.probe(drillProbe);
              streams = delivery.streams();
              callbacks = delivery.callbacks();
              lag = delivery.lag();
              lagTimer =
                  new LagMetrics(
                          lag, config.metrics().lagApps(), registry, java.time.Clock.systemUTC())
                      .start(vertx, config.metrics().lagInterval());
              committer.onUncertain(delivery::mayHaveCommitted);
              // Listening (and the reconcile's baseline) before any app state is loaded, so every
              // later change made on another node is either heard or found.
              control =
                  new ControlChanges(delivery.context(), redis, apps, config.control(), registry);
              applier = new ChangeApplier(apps, grants, new Deliveries(delivery));
              control.onChange(applier);
              // a 410 suspends the endpoint where it was answered; the others hear it as they
              // hear an operator's suspend
              callbacks.onGone(
                  appId -> control.publish(Change.of(Change.Kind.ENDPOINT_SUSPENDED, appId)));
              ingestWriter =
                  new io.orderpush.gateway.ingest.IngestWriter(
                      vertx,
                      delivery.context(),
                      redis,
                      config.cluster().name(),
                      config.control().nodeId(),
                      config.forward().advertiseUrl(),
                      delivery::liveNodes,
                      registry);
              if (config.forward().commitFeed()) {
                io.orderpush.gateway.ingest.CommitFeed feed =
                    new io.orderpush.gateway.ingest.CommitFeed(
                        vertx,
                        config.control().nodeId(),
                        config.forward().advertiseUrl(),
                        config.security().secretKey(),
                        config.security().oldSecretKeys(),
                        delivery::liveNodes,
                        ingestWriter,
                        delivery,
                        log.masker().rules().fingerprint(),
                        new io.orderpush.gateway.ingest.CommitFeed.Ingest(
                            committer::append,
                            config.ingest().maxEvents(),
                            config.ingest().maxRequestBytes(),
                            config.http().maxClientWebSocketMessageBytes(),
                            config.ingest().maxDataBytes(),
                            config.ingest().maxDataDepth(),
                            // the writer answers every batch within the PostgreSQL client timeout
                            config.pg().clientTimeout().plusSeconds(2)),
                        registry);
                commitFeed = feed;
                committer.onCommitted(stored -> delivery.committed(stored, feed.committed(stored)));
              } else {
                committer.onCommitted(delivery::committed);
              }
              return control
                  .start()
                  .compose(v -> delivery.start())
                  .compose(v -> ingestWriter.start())
                  .compose(
                      v -> commitFeed == null ? Future.<Void>succeededFuture() : commitFeed.start())
                  .onSuccess(v -> drillProbe.start());
            })
        .compose(
            v -> {
              partitionTimer =
                  vertx.setPeriodic(
                      PARTITION_CHECK_MS,
                      id ->
                          maintainPartitions(partitions)
                              .compose(x -> maintainAudit())
                              .compose(x -> checkPartitions(partitions)));
              for (String table : partitionTables(partitions)) {
                io.micrometer.core.instrument.Gauge.builder(
                        "gateway.partitions.days.ahead",
                        partitionDaysAhead,
                        m -> m.getOrDefault(table, Double.NaN))
                    .tag("table", table)
                    .description(
                        "Whole days after today (UTC) the table's partitions cover without a gap"
                            + " (0: only today's; -1: not today's), as of the last hourly check")
                    .register(registry);
              }
              io.micrometer.core.instrument.Gauge.builder("gateway.dependency.up", pgUp::get)
                  .tag("dependency", "postgresql")
                  .description("1 while the dependency answers (checked every 5 s), else 0")
                  .register(registry);
              io.micrometer.core.instrument.Gauge.builder("gateway.dependency.up", redisUp::get)
                  .tag("dependency", "redis")
                  .description("1 while the dependency answers (checked every 5 s), else 0")
                  .register(registry);
              // Which node this is, for joins: series carry the scrape's instance label, this one
              // maps it to the node id the logs and the change notices use.
              io.micrometer.core.instrument.Gauge.builder("gateway.node.info", () -> 1)
                  .tag("node", config.control().nodeId())
                  .description("1, labelled with this node's id (node.id)")
                  .register(registry);
              io.micrometer.core.instrument.FunctionCounter.builder(
                      "gateway.redis.commands", redis, RedisStore::commandsSent)
                  .description("Commands sent to Redis on the shared connection (not pub/sub)")
                  .register(registry);
              io.micrometer.core.instrument.FunctionCounter.builder(
                      "gateway.redis.script.reloads", redis, RedisStore::scriptReloads)
                  .description(
                      "Lua scripts sent whole because a Redis node did not hold them (NOSCRIPT)")
                  .register(registry);
              dependencyTimer = vertx.setPeriodic(0, 5000, id -> checkDependencies());
              firstMaintenance =
                  maintainPartitions(partitions)
                      .compose(x -> maintainAudit())
                      .compose(x -> checkPartitions(partitions));
              // a missed delete notice applies within a reconcile interval, unless the round's
              // read of the versions is slow (up to the query timeout; later rounds wait for it):
              // three intervals, the query timeout and a second
              appSweeps =
                  new io.orderpush.gateway.admin.AppSweeps(
                      vertx,
                      pool,
                      apps,
                      grants,
                      delivery,
                      config
                          .control()
                          .reconcileInterval()
                          .multipliedBy(3)
                          .plus(config.pg().queryTimeout())
                          .plusSeconds(1),
                      // retention drops whole days: two days past it, every event the grant sent
                      // is gone
                      java.time.Duration.ofDays(config.retentionDays() + 2L),
                      registry);
              appSweeps.start();
              Routes routes = new Routes(this);
              drills = routes.drills();
              drills.start();
              // the port is handed from the starting server to the real one
              return closeStarting()
                  .compose(
                      x ->
                          vertx.deployVerticle(
                              () -> new HttpVerticle(config.http(), routes::router),
                              new DeploymentOptions()
                                  .setInstances(config.http().eventLoopThreads())));
            })
        .map(
            id -> {
              httpDeployment = id;
              LOG.info("gateway listening on {}:{}", config.http().host(), config.http().port());
              return null;
            });
  }

  /** Whether {@link #stop} began: readiness answers 503, WebSocket upgrades are refused. */
  boolean stopping() {
    return stopping;
  }

  private volatile boolean stopping;

  /**
   * Graceful stop: stop accepting and let requests in flight finish (HTTP shutdown grace), wait for
   * every accepted ingest batch to commit, then close the pools, Redis and Vert.x.
   */
  public Future<Void> stop() {
    LOG.info("stopping: no new requests; finishing those in flight");
    // First: load balancers see not ready, and clients reconnecting from the connections closed
    // below go to another node instead of claiming channels here under a lease about to end.
    stopping = true;
    if (streams != null) {
      streams.refuseNew();
    }
    if (partitionTimer >= 0) {
      vertx.cancelTimer(partitionTimer);
    }
    if (dependencyTimer >= 0) {
      vertx.cancelTimer(dependencyTimer);
    }
    if (lagTimer >= 0) {
      vertx.cancelTimer(lagTimer);
    }
    if (appSweeps != null) {
      appSweeps.stop();
    }
    Future<Void> streamsClosed =
        // first: the other nodes stop forwarding ingest here
        (ingestWriter == null ? Future.<Void>succeededFuture() : ingestWriter.stop())
            .transform(
                v -> commitFeed == null ? Future.<Void>succeededFuture() : commitFeed.close())
            .transform(v -> drills == null ? Future.<Void>succeededFuture() : drills.stop())
            .transform(v -> control == null ? Future.succeededFuture() : control.close())
            // everything here is released and the lease given up: the others take over at once
            .transform(v -> delivery == null ? Future.succeededFuture() : delivery.stop());
    Future<?> http =
        streamsClosed.transform(
            v ->
                httpDeployment == null ? Future.succeededFuture() : vertx.undeploy(httpDeployment));
    Future<Void> drained =
        http.transform(v -> committer == null ? Future.succeededFuture() : committer.close())
            .transform(v -> stopAudit())
            .transform(v -> closeQuietly(writers))
            .transform(v -> closeQuietly(deliveryPool))
            .transform(v -> closeQuietly(replayPool))
            .transform(v -> closeQuietly(pool))
            .transform(v -> redis == null ? Future.succeededFuture() : redis.close(vertx))
            .transform(
                v -> leaseRedis == null ? Future.succeededFuture() : leaseRedis.close(vertx));
    // Vert.x is closed from a plain thread: a callback bound to one of its event loops would
    // find that loop already gone.
    CompletableFuture<Void> closed = new CompletableFuture<>();
    drained.onComplete(
        ignored ->
            CompletableFuture.runAsync(
                () ->
                    vertx
                        .close()
                        .toCompletionStage()
                        .whenComplete(
                            (v, err) -> {
                              LOG.info("stopped");
                              closed.complete(null);
                            })));
    return Future.fromCompletionStage(closed);
  }

  private void checkDependencies() {
    pool.query("SELECT 1")
        .execute()
        .timeout(1, TimeUnit.SECONDS)
        .onComplete(ar -> pgUp.set(ar.succeeded() ? 1 : 0));
    redis
        .ping(vertx)
        .timeout(1, TimeUnit.SECONDS)
        .onComplete(ar -> redisUp.set(ar.succeeded() ? 1 : 0));
  }

  /** Closes the starting server (once), handing the port to the real one. */
  private Future<Void> closeStarting() {
    StartingServer s = starting;
    starting = null;
    return s == null ? Future.succeededFuture() : s.close();
  }

  /** Completes once the partition maintenance started with the gateway has run (never fails). */
  public Future<Void> firstMaintenance() {
    return firstMaintenance;
  }

  /**
   * Creates the coming days' partitions and drops those past retention: on one node of the cluster
   * at a time (a PostgreSQL advisory lock; the others skip the round), as one chore.
   */
  private Future<Void> maintainPartitions(PartitionMaintainer partitions) {
    return ClusterChore.once(
            pool,
            "event-partitions",
            conn ->
                partitions
                    .ensurePartitions(conn)
                    .onFailure(err -> LOG.error("could not create upcoming partitions", err))
                    .transform(v -> partitions.dropExpired(conn, config.retentionDays()))
                    .onSuccess(
                        dropped -> {
                          if (!dropped.isEmpty()) {
                            LOG.info(
                                "retention ({} days): dropped partitions {}",
                                config.retentionDays(),
                                dropped);
                          }
                        })
                    .onFailure(err -> LOG.error("could not drop partitions past retention", err))
                    .transform(v -> settleVacuum(partitions, conn)))
        .<Void>mapEmpty()
        .otherwiseEmpty();
  }

  /**
   * Keeps autovacuum's insert-triggered vacuum off the partitions being written and hands those
   * whose day or week is over back to it ({@link PartitionMaintainer#settleVacuum}). Never fails.
   */
  private Future<Void> settleVacuum(
      PartitionMaintainer partitions, io.vertx.sqlclient.SqlConnection conn) {
    return partitions
        .settleVacuum(conn)
        .onSuccess(
            changed -> {
              if (!changed.isEmpty()) {
                LOG.info("partitions handed to or kept from insert vacuums: {}", changed);
              }
            })
        .onFailure(err -> LOG.error("could not set the partitions' vacuum options", err))
        .<Void>mapEmpty()
        .otherwiseEmpty();
  }

  /**
   * The audit trail's writer, on its own pool and context, apart from delivery's: deliveries only
   * queue records. Its day partitions exist whether or not auditing is on, so the query answers.
   */
  private Future<Void> startAudit() {
    var settings = config.audit();
    Future<Void> ready = auditPartitions.ensurePartitions();
    if (!settings.enabled()) {
      LOG.info("audit trail off (audit.enabled=false): deliveries are not recorded");
      return ready;
    }
    auditPool = PgPools.create(vertx, config.pg(), "audit", 1, 4);
    AuditWriter writer = new AuditWriter(auditPool, new AuditStore(), settings.writer(), registry);
    return ready
        .compose(v -> vertx.deployVerticle(writer))
        .map(
            id -> {
              auditDeployment = id;
              audit = writer;
              return null;
            });
  }

  /** Writes the audit records still buffered (everything that delivered has stopped). */
  private Future<Void> stopAudit() {
    return (auditDeployment == null
            ? Future.<Void>succeededFuture()
            : vertx.undeploy(auditDeployment).otherwiseEmpty())
        .transform(v -> closeQuietly(auditPool));
  }

  private List<String> partitionTables(PartitionMaintainer partitions) {
    List<String> tables = new java.util.ArrayList<>(partitions.tables());
    tables.addAll(auditPartitions.tables());
    return tables;
  }

  /**
   * Tells ingest which weeks' keys are one partition (it then looks up less), and reads how many
   * days ahead each partitioned table is ready, whichever node made the partitions (every node
   * reports it; the maintenance itself runs on one): a table short of tomorrow means the
   * maintenance is failing, and ingest or auditing fails at midnight. Unknown (NaN) while
   * PostgreSQL does not answer. Never fails.
   */
  private Future<Void> checkPartitions(PartitionMaintainer partitions) {
    Future<Void> weeks =
        PartitionMaintainer.keyWeeks(pool)
            .onSuccess(log::keyWeeks)
            .onFailure(
                err -> LOG.warn("could not read which key weeks are whole: {}", err.toString()))
            .<Void>mapEmpty()
            .otherwiseEmpty();
    Future<Void> daysAhead =
        Future.join(partitions.daysAhead(pool), auditPartitions.daysAhead(pool))
            .map(
                all -> {
                  for (int i = 0; i < 2; i++) {
                    Map<String, Integer> ahead = all.resultAt(i);
                    ahead.forEach((table, days) -> partitionDaysAhead.put(table, (double) days));
                  }
                  return (Void) null;
                })
            .onFailure(
                err -> {
                  partitionDaysAhead.replaceAll((table, days) -> Double.NaN);
                  LOG.warn("could not read which partitions exist: {}", err.toString());
                })
            .otherwiseEmpty();
    return Future.join(weeks, daysAhead).<Void>mapEmpty().otherwiseEmpty();
  }

  /** Creates the coming days' audit partitions and drops those past audit.retention-days. */
  private Future<Void> maintainAudit() {
    int days = config.audit().retentionDays();
    return ClusterChore.once(
            pool,
            "audit-partitions",
            conn ->
                auditPartitions
                    .ensurePartitions(conn)
                    .onFailure(err -> LOG.error("could not create upcoming audit partitions", err))
                    .transform(v -> auditPartitions.dropExpired(conn, days))
                    .onSuccess(
                        dropped -> {
                          if (!dropped.isEmpty()) {
                            LOG.info(
                                "audit retention ({} days): dropped partitions {}", days, dropped);
                          }
                        })
                    .onFailure(
                        err -> LOG.error("could not drop audit partitions past retention", err))
                    .transform(v -> settleVacuum(auditPartitions, conn)))
        .<Void>mapEmpty()
        .otherwiseEmpty();
  }

  /**
   * Runs the audit trail's retention now (operations and tests); the gateway also runs it hourly.
   */
  public Future<java.util.List<String>> applyAuditRetention() {
    return auditPartitions.dropExpired(config.audit().retentionDays());
  }

  /** Runs retention now (operations and tests); the gateway also runs it hourly. */
  public Future<java.util.List<String>> applyRetention() {
    return new PartitionMaintainer(pool, config.partitionsAheadDays())
        .dropExpired(config.retentionDays());
  }

  /** The current key seals; old keys (from before a rotation) only open. */
  static SecretCipher secretCipher(GatewayConfig config) {
    return new SecretCipher(config.security().secretKey(), config.security().secretOpeningKeys());
  }

  private static Future<Void> closeQuietly(Pool p) {
    return p == null ? Future.succeededFuture() : p.close();
  }

  public Vertx vertx() {
    return vertx;
  }

  public GatewayConfig config() {
    return config;
  }

  public EventLog eventLog() {
    return log;
  }

  /** The commit feed between this node and the writer (for tests); null when it is off. */
  public io.orderpush.gateway.ingest.CommitFeed commitFeed() {
    return commitFeed;
  }

  /** Delivery on this node (for operators' views and tests). */
  public Delivery delivery() {
    return delivery;
  }

  public Pool pool() {
    return pool;
  }
}
