package io.orderpush.persistence.pg;

import io.orderpush.persistence.PersistenceException;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * Applies the versioned schema in {@code db/migration}. Blocking (JDBC): run it once at startup,
 * before any event loop serves traffic.
 */
public final class SchemaMigrations {

  private SchemaMigrations() {}

  public static MigrateResult apply(PgSettings pg) {
    try {
      return Flyway.configure()
          .dataSource(pg.jdbcUrl(), pg.user(), pg.password())
          .locations("classpath:db/migration")
          .connectRetries(5)
          .load()
          .migrate();
    } catch (RuntimeException e) {
      throw new PersistenceException("schema migration failed on " + pg.redacted(), e);
    }
  }
}
