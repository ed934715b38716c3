package io.orderpush.persistence.testing;

import io.orderpush.persistence.pg.PgSettings;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import org.flywaydb.core.Flyway;

/**
 * Databases of a test's own on the test server, beside the shared test database: for migrations
 * from an older schema, or partitions the shared one must not get.
 */
public final class ScratchDatabases {

  private ScratchDatabases() {}

  /** Creates an empty database named {@code prefix} plus a unique suffix; returns its name. */
  public static String create(PgSettings test, String prefix) throws Exception {
    String db = prefix + Long.toString(System.nanoTime(), 36);
    try (Connection admin =
            DriverManager.getConnection(test.jdbcUrl(), test.user(), test.password());
        Statement s = admin.createStatement()) {
      s.execute("CREATE DATABASE " + db);
    }
    return db;
  }

  /** {@code test}'s settings pointed at {@code db}, with a pool of one. */
  public static PgSettings settings(PgSettings test, String db) {
    URI url = URI.create(test.url().toString().replace("/" + TestServices.TEST_DATABASE, "/" + db));
    return new PgSettings(
        url, 1, 1, test.connectTimeout(), test.queryTimeout(), test.clientTimeout());
  }

  /** Migrates {@code pg}'s database to schema version {@code target} ("latest" for all). */
  public static void migrate(PgSettings pg, String target) {
    Flyway.configure()
        .dataSource(pg.jdbcUrl(), pg.user(), pg.password())
        .locations("classpath:db/migration")
        .target(target)
        .load()
        .migrate();
  }

  /**
   * Drops {@code db}. An autovacuum worker busy in it (a superuser's process, which FORCE may not
   * end for this role) makes PostgreSQL refuse; it is soon done, so the drop is tried again for up
   * to 30 s.
   */
  public static void drop(PgSettings test, String db) throws Exception {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try (Connection admin =
              DriverManager.getConnection(test.jdbcUrl(), test.user(), test.password());
          Statement s = admin.createStatement()) {
        s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
        return;
      } catch (java.sql.SQLException e) {
        // 42501: "must be a member of the role whose process is being terminated"
        if (!"42501".equals(e.getSQLState()) || System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(200);
      }
    }
  }
}
