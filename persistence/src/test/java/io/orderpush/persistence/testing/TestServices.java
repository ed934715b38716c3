package io.orderpush.persistence.testing;

import io.orderpush.persistence.pg.PgSettings;
import io.orderpush.persistence.pg.SchemaMigrations;
import io.orderpush.persistence.redis.RedisSettings;
import java.net.URI;
import java.time.Duration;

/**
 * The real PostgreSQL and Redis the integration tests run against: the ones scripts/services.sh
 * brings up, or those named by GATEWAY_PG_URL and GATEWAY_REDIS_URL.
 */
public final class TestServices {

  public static final String DEFAULT_PG_URL = "postgresql://gateway:gateway@127.0.0.1:5432/gateway";
  public static final String DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

  private static volatile boolean migrated;

  private TestServices() {}

  public static String pgUrl() {
    return System.getenv().getOrDefault("GATEWAY_PG_URL", DEFAULT_PG_URL);
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
}
