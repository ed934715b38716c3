package io.orderpush.client;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.OptionalLong;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * An {@link AppliedStore} in the application's own database: the handler gets the JDBC {@link
 * Connection} of a transaction that also records the merchant's last applied seq, so the
 * application's writes and the seq commit together or not at all. A crash before the commit leaves
 * neither (the events come again and are applied), a crash after it leaves both (the events come
 * again and are skipped).
 *
 * <p>The merchant's row is locked ({@code SELECT ... FOR UPDATE}) for the transaction, so two
 * consumers holding the same merchant for a moment (a channel moving) apply its batches one after
 * the other, the second skipping what the first applied. Table: {@code (merchant_id VARCHAR(64)
 * PRIMARY KEY, last_seq BIGINT NOT NULL)}, created by {@link #createTable()}; tested on PostgreSQL,
 * and plain SQL otherwise. Use one table per app. Each batch takes a connection for its
 * transaction: give it a pooled data source.
 */
public final class JdbcAppliedStore implements AppliedStore<Connection> {

  /** Where connections come from, for example {@code dataSource::getConnection}. */
  @FunctionalInterface
  public interface ConnectionSource {
    Connection get() throws SQLException;
  }

  private static final Pattern TABLE = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}");
  private static final String UNIQUE_VIOLATION = "23505";
  private static final int ATTEMPTS = 3;

  private final ConnectionSource connections;
  private final String table;

  /**
   * @param table the table's name: letters, digits and {@code _}, at most 63 characters
   */
  public JdbcAppliedStore(ConnectionSource connections, String table) {
    if (!TABLE.matcher(table).matches()) {
      throw new IllegalArgumentException(
          "table must match " + TABLE.pattern() + " (it is put into SQL): " + table);
    }
    this.connections = connections;
    this.table = table;
  }

  public static JdbcAppliedStore of(DataSource dataSource, String table) {
    return new JdbcAppliedStore(dataSource::getConnection, table);
  }

  /** Creates the table if it does not exist. */
  public JdbcAppliedStore createTable() {
    try (Connection c = connections.get();
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE IF NOT EXISTS "
              + table
              + " (merchant_id VARCHAR(64) PRIMARY KEY, last_seq BIGINT NOT NULL)");
      if (!c.getAutoCommit()) {
        c.commit();
      }
      return this;
    } catch (SQLException e) {
      throw new OrderPushException("creating table " + table + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public OptionalLong lastApplied(String merchantId) {
    try (Connection c = connections.get();
        PreparedStatement q =
            c.prepareStatement("SELECT last_seq FROM " + table + " WHERE merchant_id = ?")) {
      q.setString(1, merchantId);
      try (ResultSet rs = q.executeQuery()) {
        return rs.next() ? OptionalLong.of(rs.getLong(1)) : OptionalLong.empty();
      }
    } catch (SQLException e) {
      throw new OrderPushException("reading " + table + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public long applyOnce(Batch batch, BatchHandler<Connection> handler) throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        return inTransaction(c -> applyIn(c, batch, handler));
      } catch (SQLException e) {
        // Two consumers recorded a merchant's first batch at once: one commits, the other retries
        // and now finds the row (and skips what was applied).
        if (!UNIQUE_VIOLATION.equals(e.getSQLState()) || attempt == ATTEMPTS) {
          throw e;
        }
      }
    }
  }

  private long applyIn(Connection c, Batch batch, BatchHandler<Connection> handler)
      throws Exception {
    String m = batch.merchantId();
    Long last = null;
    try (PreparedStatement q =
        c.prepareStatement("SELECT last_seq FROM " + table + " WHERE merchant_id = ? FOR UPDATE")) {
      q.setString(1, m);
      try (ResultSet rs = q.executeQuery()) {
        if (rs.next()) {
          last = rs.getLong(1);
        }
      }
    }
    Batch fresh = batch.after(last == null ? 0 : last, last != null);
    if (fresh.events().isEmpty()) {
      return last == null ? 0 : last;
    }
    handler.handle(fresh, c);
    String sql =
        last == null
            ? "INSERT INTO " + table + " (last_seq, merchant_id) VALUES (?, ?)"
            : "UPDATE " + table + " SET last_seq = ? WHERE merchant_id = ?";
    try (PreparedStatement u = c.prepareStatement(sql)) {
      u.setLong(1, fresh.lastSeq());
      u.setString(2, m);
      u.executeUpdate();
    }
    return fresh.lastSeq();
  }

  @Override
  public void skipTo(String merchantId, long seq) {
    try {
      for (int attempt = 1; ; attempt++) {
        try {
          inTransaction(c -> skipIn(c, merchantId, seq));
          return;
        } catch (SQLException e) {
          if (!UNIQUE_VIOLATION.equals(e.getSQLState()) || attempt == ATTEMPTS) {
            throw e;
          }
        }
      }
    } catch (Exception e) {
      throw new OrderPushException(
          "recording seq " + seq + " of merchant " + merchantId + " failed: " + e.getMessage(), e);
    }
  }

  private long skipIn(Connection c, String merchantId, long seq) throws SQLException {
    try (PreparedStatement u =
        c.prepareStatement(
            "UPDATE " + table + " SET last_seq = ? WHERE merchant_id = ? AND last_seq < ?")) {
      u.setLong(1, seq);
      u.setString(2, merchantId);
      u.setLong(3, seq);
      if (u.executeUpdate() == 1) {
        return seq;
      }
    }
    if (lastIn(c, merchantId) == null) {
      try (PreparedStatement i =
          c.prepareStatement("INSERT INTO " + table + " (last_seq, merchant_id) VALUES (?, ?)")) {
        i.setLong(1, seq);
        i.setString(2, merchantId);
        i.executeUpdate();
      }
    }
    return seq;
  }

  private Long lastIn(Connection c, String merchantId) throws SQLException {
    try (PreparedStatement q =
        c.prepareStatement("SELECT last_seq FROM " + table + " WHERE merchant_id = ?")) {
      q.setString(1, merchantId);
      try (ResultSet rs = q.executeQuery()) {
        return rs.next() ? rs.getLong(1) : null;
      }
    }
  }

  @FunctionalInterface
  private interface Work {
    long run(Connection c) throws Exception;
  }

  private long inTransaction(Work work) throws Exception {
    try (Connection c = connections.get()) {
      boolean auto = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        long out = work.run(c);
        c.commit();
        return out;
      } catch (Exception | Error e) {
        try {
          c.rollback();
        } catch (SQLException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      } finally {
        try {
          c.setAutoCommit(auto);
        } catch (SQLException ignored) {
          // the connection is broken; closing it is all that is left
        }
      }
    }
  }
}
