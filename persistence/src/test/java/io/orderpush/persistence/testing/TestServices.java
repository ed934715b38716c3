package io.orderpush.persistence.testing;

import io.orderpush.persistence.pg.PgSettings;
import io.orderpush.persistence.pg.SchemaMigrations;
import io.orderpush.persistence.redis.RedisSettings;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;

/**
 * The real PostgreSQL and Redis the integration tests run against: the ones scripts/services.sh
 * brings up, or those named by GATEWAY_PG_URL and GATEWAY_REDIS_URL.
 *
 * <p>Tests never use the database GATEWAY_PG_URL names, which the demo and a default run use: apps
 * they create hold secrets sealed under the tests' key, which any other gateway would fail to open.
 * They use {@value #TEST_DATABASE} on the same server, created on first use by the same user.
 */
public final class TestServices {

  public static final String DEFAULT_PG_URL = "postgresql://gateway:gateway@127.0.0.1:5432/gateway";
  public static final String DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

  /**
   * The tests' database: {@code gateway_test}, or {@code GATEWAY_TEST_DB} (letters, digits and
   * underscores) when several test runs share one server and must not see each other's apps.
   */
  public static final String TEST_DATABASE = testDatabase();

  private static volatile boolean migrated;
  private static volatile String testUrl;

  private TestServices() {}

  private static String testDatabase() {
    String name = System.getenv().getOrDefault("GATEWAY_TEST_DB", "gateway_test");
    if (!name.matches("[a-z_][a-z0-9_]{0,62}")) {
      throw new IllegalStateException("GATEWAY_TEST_DB must be a plain database name: " + name);
    }
    return name;
  }

  /** The test database's URL; creates the database the first time it is asked for. */
  public static String pgUrl() {
    String url = testUrl;
    if (url == null) {
      url = createTestDatabase();
    }
    return url;
  }

  public static String redisUrl() {
    return System.getenv().getOrDefault("GATEWAY_REDIS_URL", DEFAULT_REDIS_URL);
  }

  public static PgSettings pg() {
    return new PgSettings(
        URI.create(pgUrl()),
        4,
        2,
        Duration.ofSeconds(2),
        Duration.ofSeconds(30),
        Duration.ofSeconds(35));
  }

  public static RedisSettings redis() {
    return new RedisSettings(URI.create(redisUrl()), Duration.ofSeconds(2));
  }

  /**
   * The Redis Cluster's seed nodes: {@code GATEWAY_TEST_REDIS_CLUSTER_URL}, else the local 3-master
   * cluster {@code GATEWAY_REDIS_CLUSTER=true scripts/services.sh} starts.
   */
  public static String redisClusterUrl() {
    return System.getenv()
        .getOrDefault(
            "GATEWAY_TEST_REDIS_CLUSTER_URL",
            "redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002");
  }

  public static RedisSettings redisCluster() {
    return RedisSettings.parse(redisClusterUrl(), true, Duration.ofSeconds(2));
  }

  /** Applies the schema once per JVM. */
  public static synchronized PgSettings migratedPg() {
    PgSettings pg = pg();
    if (!migrated) {
      SchemaMigrations.apply(pg);
      migrated = true;
    }
    return pg;
  }

  /** A merchant id no other test uses, so tests never see each other's events. */
  public static String uniqueMerchant(String prefix) {
    return prefix
        + "-"
        + Long.toString(System.nanoTime(), 36)
        + Integer.toString((int) (Math.random() * 1e6), 36);
  }

  /**
   * Creates {@value #TEST_DATABASE} on the configured server, through the configured database, if
   * it is missing (the role needs CREATEDB, which scripts/services.sh grants). Runs once per JVM,
   * on the test thread, before any event loop uses the database.
   */
  private static synchronized String createTestDatabase() {
    if (testUrl != null) {
      return testUrl;
    }
    URI configured = URI.create(System.getenv().getOrDefault("GATEWAY_PG_URL", DEFAULT_PG_URL));
    PgSettings admin =
        new PgSettings(
            configured,
            1,
            1,
            Duration.ofSeconds(2),
            Duration.ofSeconds(30),
            Duration.ofSeconds(35));
    try (Connection c =
            DriverManager.getConnection(admin.jdbcUrl(), admin.user(), admin.password());
        PreparedStatement exists =
            c.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
      exists.setString(1, TEST_DATABASE);
      if (!exists.executeQuery().next()) {
        try {
          c.createStatement().execute("CREATE DATABASE " + TEST_DATABASE);
        } catch (SQLException e) {
          // 42P04: another test JVM created it meanwhile; 23505: the same race, seen in
          // pg_database.
          if (!"42P04".equals(e.getSQLState()) && !"23505".equals(e.getSQLState())) {
            throw e;
          }
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException(
          "cannot create the test database "
              + TEST_DATABASE
              + " through "
              + admin.redacted()
              + " (the role needs CREATEDB): "
              + e.getMessage(),
          e);
    }
    String url =
        configured.getScheme() + "://" + configured.getRawAuthority() + "/" + TEST_DATABASE;
    removeStaleApps(url);
    testUrl = url;
    return testUrl;
  }

  /**
   * Removes the apps an earlier run left in the test database, which outlives runs (a run that
   * failed before its clean-up, a test that forgot it): every gateway a test starts loads each
   * callback app among them, one after another, retries its callbacks to a receiver long gone, and
   * claims and releases its channels; a start with PostgreSQL failing waits a statement timeout for
   * each (CallbackLoadIT). Only apps created over an hour ago, so that a run sharing the database
   * right now keeps its own; once per JVM, before any gateway starts.
   */
  private static void removeStaleApps(String url) {
    PgSettings test =
        new PgSettings(
            URI.create(url),
            1,
            1,
            Duration.ofSeconds(2),
            Duration.ofSeconds(30),
            Duration.ofSeconds(35));
    try (Connection c = DriverManager.getConnection(test.jdbcUrl(), test.user(), test.password())) {
      c.createStatement()
          .execute(
              "DO $$ BEGIN IF to_regclass('apps') IS NOT NULL THEN"
                  + " DELETE FROM apps WHERE created_at < now() - interval '1 hour';"
                  + " END IF; END $$");
    } catch (SQLException e) {
      throw new IllegalStateException(
          "cannot remove stale apps from the test database "
              + TEST_DATABASE
              + ": "
              + e.getMessage(),
          e);
    }
  }
}
