package io.orderpush.gateway.config;

import io.orderpush.delivery.callback.Allowlist;
import io.orderpush.delivery.callback.CallbackSettings;
import io.orderpush.delivery.channel.DeliverySettings;
import io.orderpush.delivery.cluster.ClusterSettings;
import io.orderpush.delivery.control.ControlSettings;
import io.orderpush.delivery.websocket.StreamSettings;
import io.orderpush.persistence.masking.MaskRules;
import io.orderpush.persistence.pg.PgSettings;
import io.orderpush.persistence.redis.RedisSettings;
import java.util.Map;

/** All configuration, parsed and validated once at startup. */
public record GatewayConfig(
    HttpConfig http,
    PgSettings pg,
    int partitionsAheadDays,
    int deliveryPoolSize,
    RedisSettings redis,
    StreamSettings stream,
    CallbackSettings callback,
    java.time.Duration secretGrace,
    DeliverySettings delivery,
    int retentionDays,
    ReplayConfig replay,
    long lagMaxScannedEvents,
    MetricsConfig metrics,
    IngestConfig ingest,
    SecurityConfig security,
    java.time.Duration tokenGrace,
    ControlSettings control,
    AuthLimitConfig authLimit,
    MaskRules masking,
    AuditConfig audit,
    ClusterSettings cluster,
    DrillLimits drills,
    ForwardConfig forward) {

  /** A node's name when {@code GATEWAY_NODE_ID} gives none. */
  public static String generatedNodeId() {
    return "node-" + java.util.UUID.randomUUID().toString().substring(0, 8);
  }

  /** The seeds of a Redis Cluster when none are given: the local one scripts/services.sh starts. */
  static final String LOCAL_CLUSTER_SEEDS =
      "redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002";

  /**
   * Reads the defaults file overridden by {@code env}; throws {@link ConfigException} listing every
   * problem.
   */
  public static GatewayConfig load(Map<String, String> env) {
    ConfigReader r = new ConfigReader(ConfigReader.loadDefaults(), env);
    HttpConfig http =
        new HttpConfig(
            r.string("http.host"),
            r.integer("http.port", 0, 65535),
            r.millis("http.shutdown-grace-ms", 0, 600_000),
            r.integer("stream.max-client-message-bytes", 256, 16 * 1024 * 1024),
            r.integer("http.event-loops", 0, 64));
    int poolSize = r.integer("pg.pool-size", 1, 200);
    int writers = r.integer("pg.writers", 1, 64);
    var connectTimeout = r.millis("pg.connect-timeout-ms", 100, 120_000);
    var queryTimeout = r.millis("pg.query-timeout-ms", 100, 600_000);
    var clientTimeout = r.millis("pg.client-timeout-ms", 1100, 601_000);
    boolean clientTimeoutFits =
        clientTimeout.compareTo(queryTimeout.plus(PgSettings.MIN_CLIENT_TIMEOUT_MARGIN)) >= 0;
    r.check(
        clientTimeoutFits,
        "pg.client-timeout-ms (GATEWAY_PG_CLIENT_TIMEOUT_MS) must be at least "
            + PgSettings.MIN_CLIENT_TIMEOUT_MARGIN.toMillis()
            + " ms longer than pg.query-timeout-ms ("
            + queryTimeout.toMillis()
            + "), was "
            + clientTimeout.toMillis());
    // Reported above; build the settings anyway so the other keys are still checked.
    var usableClientTimeout =
        clientTimeoutFits ? clientTimeout : queryTimeout.plus(PgSettings.MIN_CLIENT_TIMEOUT_MARGIN);
    PgSettings pg =
        r.url(
            "pg.url",
            u ->
                new PgSettings(
                    u, poolSize, writers, connectTimeout, queryTimeout, usableClientTimeout),
            "postgresql://user[:password]@host[:port]/database");
    int partitionsAhead = r.integer("pg.partitions-ahead-days", 1, 30);
    int deliveryPool = r.integer("pg.delivery-pool-size", 1, 200);
    var redisTimeout = r.millis("redis.command-timeout-ms", 50, 60_000);
    boolean redisCluster = r.bool("redis.cluster");
    RedisSettings redis =
        r.parsed(
            "redis.url",
            // a cluster without seeds given: the one scripts/services.sh starts
            redisCluster ? LOCAL_CLUSTER_SEEDS : null,
            v -> RedisSettings.parse(v, redisCluster, redisTimeout),
            redisCluster
                ? "a comma-separated list of the cluster's seed nodes, redis://[:password@]host[:port]"
                : "redis://[:password@]host[:port]");
    StreamSettings stream =
        new StreamSettings(
            r.integer("stream.window", 1, 100_000),
            r.integer("stream.max-batch-events", 1, 100_000),
            r.integer("stream.max-frame-bytes", 1024, 64 * 1024 * 1024),
            r.integer("stream.max-parallel-reads", 1, 64),
            r.integer("stream.write-queue-bytes", 64 * 1024, 256 * 1024 * 1024),
            r.millis("stream.ping-interval-ms", 100, 600_000),
            r.millis("stream.idle-timeout-ms", 200, 3_600_000),
            r.millis("stream.ack-timeout-ms", 200, 86_400_000),
            r.integer("stream.max-client-messages-in-flight", 1, 100_000),
            r.integer("stream.max-client-messages-per-second", 1, 10_000_000),
            r.integer("stream.max-connections-per-app", 1, 100_000));
    r.check(
        stream.idleTimeout().compareTo(stream.pingInterval()) > 0,
        "stream.idle-timeout-ms must be longer than stream.ping-interval-ms");
    Allowlist allowlist = Allowlist.parse("");
    try {
      allowlist = Allowlist.parse(r.string("callback.allowlist"));
    } catch (IllegalArgumentException e) {
      r.check(
          false,
          "callback.allowlist (GATEWAY_CALLBACK_ALLOWLIST) must be comma-separated hosts, IPs or CIDRs: "
              + e.getMessage());
    }
    CallbackSettings callback =
        new CallbackSettings(
            r.integer("callback.batch-size", 1, 10_000),
            r.integer("callback.max-in-flight-per-app", 1, 1024),
            r.millis("callback.connect-timeout-ms", 100, 60_000),
            r.millis("callback.request-timeout-ms", 100, 600_000),
            r.millis("callback.initial-backoff-ms", 10, 3_600_000),
            r.millis("callback.max-backoff-ms", 10, 86_400_000),
            r.millis("callback.failing-after-ms", 1000, 24 * 86_400_000),
            allowlist);
    var secretGrace = r.millis("apps.secret-grace-ms", 0, 24 * 86_400_000);
    var reconcileInterval = r.millis("delivery.reconcile-interval-ms", 100, 600_000);
    var checkpointInterval = r.millis("delivery.checkpoint-interval-ms", 100, 600_000);
    DeliverySettings delivery =
        new DeliverySettings(
            checkpointInterval,
            r.longValue("delivery.tail-cache-bytes", 0, 64L * 1024 * 1024 * 1024),
            reconcileInterval,
            r.integer("delivery.reconcile-batch", 1, 100_000),
            // a round issued just before a rewind was heard: a round's wait, a connection's wait
            // and connect, then its statement up to the client's timeout
            checkpointInterval.plus(queryTimeout).plus(connectTimeout).plus(clientTimeout));
    int retentionDays = r.integer("retention.days", 1, 3650);
    long lagMaxScannedEvents = r.longValue("lag.max-scanned-events", 1, 1_000_000_000L);
    MetricsConfig metrics =
        new MetricsConfig(
            r.integer("metrics.lag-apps", 0, 1000),
            r.millis("metrics.lag-interval-ms", 100, 600_000));
    ReplayConfig replay =
        new ReplayConfig(
            r.integer("replay.max-events", 1, 100_000_000),
            r.integer("pg.replay-pool-size", 1, 200),
            r.integer("replay.max-concurrent", 1, 10_000),
            r.integer("replay.max-concurrent-per-app", 1, 10_000),
            r.longValue("replay.max-events-per-second", 0, 100_000_000),
            r.millis("replay.stall-timeout-ms", 100, 3_600_000));
    IngestConfig ingest =
        new IngestConfig(
            r.integer("ingest.max-events", 1, 100_000),
            r.integer("ingest.max-request-bytes", 1024, 256 * 1024 * 1024),
            r.integer("ingest.max-data-bytes", 64, 16 * 1024 * 1024),
            r.integer("ingest.max-group-events", 1, 100_000),
            r.integer("ingest.max-queued-events", 1, 10_000_000),
            r.integer("ingest.max-in-flight-bytes", 1024, Integer.MAX_VALUE),
            r.integer("ingest.max-data-depth", 1, 256));
    r.check(
        ingest.maxInFlightBytes() >= ingest.maxRequestBytes(),
        "ingest.max-in-flight-bytes must be at least ingest.max-request-bytes ("
            + ingest.maxRequestBytes()
            + ")");
    r.check(
        ingest.maxQueuedEvents() >= ingest.maxEvents(),
        "ingest.max-queued-events must be at least ingest.max-events (" + ingest.maxEvents() + ")");
    String adminToken = r.secret("admin.token", 1);
    String ingestToken = r.secret("ingest.token", 1);
    boolean keyDerived = r.string("secret.key").isEmpty() && !adminToken.isEmpty();
    java.util.List<byte[]> oldKeys = r.base64Keys("secret.keys-old", 32);
    byte[] secretKey =
        keyDerived ? SecurityConfig.deriveKey(adminToken) : r.base64Key("secret.key", 32);
    SecurityConfig security =
        new SecurityConfig(
            adminToken,
            ingestToken,
            secretKey,
            java.util.List.copyOf(oldKeys),
            keyDerived,
            adminToken.length() < SecurityConfig.ADVISED_TOKEN_LENGTH
                || ingestToken.length() < SecurityConfig.ADVISED_TOKEN_LENGTH);
    r.check(
        !security.adminToken().equals(security.ingestToken()) || security.adminToken().isEmpty(),
        "admin.token and ingest.token must differ");
    var tokenGrace = r.millis("apps.token-grace-ms", 0, 24 * 86_400_000);
    String nodeId = r.string("node.id");
    r.check(
        nodeId.isEmpty() || nodeId.matches("[A-Za-z0-9._-]{1,64}"),
        "node.id (GATEWAY_NODE_ID) must be 1 to 64 letters, digits, '.', '_' or '-', or empty (a"
            + " generated name)");
    if (nodeId.isEmpty()) {
      nodeId = generatedNodeId();
    }
    String controlChannel = r.string("control.channel");
    r.check(
        controlChannel.matches("[!-~]{1,200}"),
        "control.channel (GATEWAY_CONTROL_CHANNEL) must be 1 to 200 printable ASCII characters"
            + " without spaces");
    ControlSettings control =
        new ControlSettings(
            nodeId, controlChannel, r.millis("control.reconcile-interval-ms", 100, 600_000));
    String clusterName = r.string("cluster.name");
    r.check(
        clusterName.matches("[A-Za-z0-9._-]{1,64}"),
        "cluster.name (GATEWAY_CLUSTER_NAME) must be 1 to 64 letters, digits, '.', '_' or '-'");
    ClusterSettings cluster =
        new ClusterSettings(clusterName, nodeId, r.millis("node.lease-ms", 1000, 600_000));
    AuthLimitConfig authLimit =
        new AuthLimitConfig(
            r.integer("auth.max-failures", 1, 1_000_000),
            r.millis("auth.failure-window-ms", 1000, 86_400_000),
            r.integer("auth.max-tracked-addresses", 16, 10_000_000));
    // logback.xml reads GATEWAY_LOG_FORMAT itself (logging starts before this); checked here so a
    // misspelt value stops startup instead of leaving the gateway without logs.
    String logFormat = r.string("log.format");
    r.check(
        logFormat.equals("text") || logFormat.equals("json"),
        "log.format (GATEWAY_LOG_FORMAT) must be text or json, was " + logFormat);
    MaskRules masking = MaskRules.defaults();
    try {
      masking = MaskRules.parse(r.string("masking.paths"));
    } catch (IllegalArgumentException e) {
      r.check(
          false,
          "masking.paths (GATEWAY_MASKING_PATHS) must be comma-separated paths into data"
              + " (buyer.phone, receiver.address:address): "
              + e.getMessage());
    }
    int auditRetentionDays = r.integer("audit.retention-days", 1, 36_500);
    r.check(
        auditRetentionDays >= retentionDays,
        "audit.retention-days (GATEWAY_AUDIT_RETENTION_DAYS) must be at least retention.days ("
            + retentionDays
            + "): the trail outlives the events, was "
            + auditRetentionDays);
    AuditConfig audit =
        new AuditConfig(
            r.bool("audit.enabled"),
            auditRetentionDays,
            new io.orderpush.persistence.audit.AuditWriter.Settings(
                r.integer("audit.buffer-rows", 100, 10_000_000),
                r.integer("audit.flush-rows", 1, 10_000),
                r.millis("audit.flush-interval-ms", 10, 60_000),
                // the final flush at shutdown waits for PostgreSQL as long as a statement may take
                queryTimeout));
    DrillLimits drills =
        new DrillLimits(
            r.integer("drill.max-rate", 1, 1_000_000),
            r.integer("drill.max-duration-s", 10, 86_400),
            r.longValue("drill.max-events", 1, 100_000_000),
            r.integer("drill.max-running", 1, 100));
    String advertise = r.string("node.advertise-url").trim();
    r.check(
        advertise.isEmpty() || advertise.matches("https?://[^/?#\\s]+:[0-9]{1,5}"),
        "node.advertise-url (GATEWAY_NODE_ADVERTISE_URL) must be empty or http(s)://host:port");
    if (advertise.isEmpty() && http.port() > 0) {
      String host = http.host();
      boolean wildcard = host.isEmpty() || host.equals("0.0.0.0") || host.equals("::");
      advertise =
          "http://"
              + (wildcard ? "127.0.0.1" : host.contains(":") ? "[" + host + "]" : host)
              + ":"
              + http.port();
    }
    ForwardConfig forward =
        new ForwardConfig(
            r.bool("ingest.forward"),
            advertise.isEmpty() ? null : advertise,
            r.bool("ingest.commit-feed"));
    r.throwIfInvalid();
    return new GatewayConfig(
        http,
        pg,
        partitionsAhead,
        deliveryPool,
        redis,
        stream,
        callback,
        secretGrace,
        delivery,
        retentionDays,
        replay,
        lagMaxScannedEvents,
        metrics,
        ingest,
        security,
        tokenGrace,
        control,
        authLimit,
        masking,
        audit,
        cluster,
        drills,
        forward);
  }
}
