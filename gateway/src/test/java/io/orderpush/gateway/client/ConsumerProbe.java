package io.orderpush.gateway.client;

import io.orderpush.client.ConsumerListener;
import io.orderpush.client.ConsumerOptions;
import io.orderpush.client.Event;
import io.orderpush.client.JdbcAppliedStore;
import io.orderpush.client.StreamConsumer;
import java.net.URI;
import java.sql.PreparedStatement;
import java.time.Duration;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * An ISV's consumer as its own process, for {@link ClientConsumerIT} to kill with SIGKILL: a {@link
 * StreamConsumer} with a {@link JdbcAppliedStore} that writes one row per event, pausing inside
 * each transaction so that a kill lands mid-batch. Arguments: gateway URL, app token, JDBC URL,
 * user, password, orders table, applied table.
 */
public final class ConsumerProbe {

  private ConsumerProbe() {}

  public static void main(String[] args) throws Exception {
    PGSimpleDataSource db = new PGSimpleDataSource();
    db.setUrl(args[2]);
    db.setUser(args[3]);
    db.setPassword(args[4]);
    String orders = args[5];
    JdbcAppliedStore store = JdbcAppliedStore.of(db, args[6]).createTable();
    String me = "pid" + ProcessHandle.current().pid();
    StreamConsumer.start(
        URI.create(args[0]),
        args[1],
        store,
        (batch, tx) -> {
          try (PreparedStatement ps =
              tx.prepareStatement(
                  "INSERT INTO " + orders + " (merchant_id, seq, consumer) VALUES (?, ?, ?)")) {
            for (Event e : batch.events()) {
              ps.setString(1, batch.merchantId());
              ps.setLong(2, e.seq());
              ps.setString(3, me);
              ps.addBatch();
            }
            ps.executeBatch();
          }
          Thread.sleep(30); // inside the transaction: a kill now leaves rows uncommitted
        },
        ConsumerOptions.builder()
            .parallelism(2)
            .initialBackoff(Duration.ofMillis(50))
            .maxBackoff(Duration.ofMillis(500))
            .build(),
        new ConsumerListener() {
          @Override
          public void connected(String connectionId) {
            System.out.println("probe: connected " + connectionId);
          }

          @Override
          public void disconnected(String why, Duration reconnectIn) {
            System.out.println("probe: disconnected: " + why);
          }
        });
    Thread.currentThread().join();
  }
}
