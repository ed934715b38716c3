package io.orderpush.gateway.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.client.Batch;
import io.orderpush.client.Event;
import io.orderpush.client.JdbcAppliedStore;
import io.orderpush.persistence.pg.PgSettings;
import io.orderpush.persistence.testing.TestServices;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * An ISV's own database for the client tests: the test PostgreSQL database, with a table of the
 * events the ISV applied (no key, so a duplicate shows as a second row) and the client's applied
 * seq table, both named for the test and dropped afterwards.
 */
final class IsvDatabase implements AutoCloseable {

  final PGSimpleDataSource dataSource = new PGSimpleDataSource();
  final String orders;
  final String applied;

  IsvDatabase(String name) {
    PgSettings pg = TestServices.pg();
    dataSource.setServerNames(new String[] {pg.host()});
    dataSource.setPortNumbers(new int[] {pg.port()});
    dataSource.setDatabaseName(pg.database());
    dataSource.setUser(pg.user());
    dataSource.setPassword(pg.password());
    String suffix = name + "_" + Long.toString(System.nanoTime(), 36);
    orders = "isv_orders_" + suffix;
    applied = "isv_applied_" + suffix;
    execute(
        "CREATE TABLE "
            + orders
            + " (merchant_id TEXT NOT NULL, seq BIGINT NOT NULL, consumer TEXT NOT NULL)");
  }

  JdbcAppliedStore store() {
    return JdbcAppliedStore.of(dataSource, applied).createTable();
  }

  /** The ISV's work for a batch: one row per event, in the store's transaction. */
  void insert(Connection tx, Batch batch, String consumer) throws SQLException {
    insert(tx, batch.merchantId(), batch.events(), consumer);
  }

  void insert(Connection tx, String merchantId, List<Event> events, String consumer)
      throws SQLException {
    try (PreparedStatement ps =
        tx.prepareStatement(
            "INSERT INTO " + orders + " (merchant_id, seq, consumer) VALUES (?, ?, ?)")) {
      for (Event e : events) {
        ps.setString(1, merchantId);
        ps.setLong(2, e.seq());
        ps.setString(3, consumer);
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  long rows() {
    return queryLong("SELECT count(*) FROM " + orders);
  }

  long rowsBy(String consumer) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM " + orders + " WHERE consumer = ?")) {
      ps.setString(1, consumer);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Every merchant's applied seqs in seq order, duplicates included. */
  Map<String, List<Long>> seqs() {
    Map<String, List<Long>> out = new TreeMap<>();
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery("SELECT merchant_id, seq FROM " + orders + " ORDER BY 1, 2")) {
      while (rs.next()) {
        out.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(rs.getLong(2));
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return out;
  }

  /** Asserts every merchant's events 1..n were applied exactly once each. */
  void assertExactlyOnce(Map<String, Integer> expected) {
    Map<String, List<Long>> seqs = seqs();
    assertThat(seqs.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
    expected.forEach(
        (m, n) -> {
          List<Long> want = new ArrayList<>();
          for (long s = 1; s <= n; s++) {
            want.add(s);
          }
          assertThat(seqs.get(m)).as("seqs applied for " + m).isEqualTo(want);
        });
  }

  private long queryLong(String sql) {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private void execute(String sql) {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    execute("DROP TABLE IF EXISTS " + orders);
    execute("DROP TABLE IF EXISTS " + applied);
  }
}
