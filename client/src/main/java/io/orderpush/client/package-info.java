/**
 * The Java client of the order data-push gateway, for ISVs: everything needed to receive a
 * merchant's order events exactly once.
 *
 * <h2>Push over WebSocket</h2>
 *
 * <pre>{@code
 * import io.orderpush.client.*;
 * import java.net.URI;
 * import java.sql.Connection;
 * import java.sql.PreparedStatement;
 * import org.postgresql.ds.PGSimpleDataSource;
 *
 * public class Erp {
 *   public static void main(String[] args) throws Exception {
 *     PGSimpleDataSource db = new PGSimpleDataSource();
 *     db.setUrl("jdbc:postgresql://localhost/erp?user=erp&password=erp");
 *     // the last applied seq per merchant, in the ERP's own database
 *     JdbcAppliedStore store = JdbcAppliedStore.of(db, "orderpush_applied").createTable();
 *     BatchHandler<Connection> save = (batch, tx) -> {
 *       try (PreparedStatement ps = tx.prepareStatement(
 *           "INSERT INTO order_events (merchant_id, seq, order_id, type, data) VALUES (?,?,?,?,?)")) {
 *         for (Event e : batch.events()) {
 *           ps.setString(1, batch.merchantId());
 *           ps.setLong(2, e.seq());
 *           ps.setString(3, e.orderId());
 *           ps.setString(4, e.type());
 *           ps.setString(5, e.data().toString());
 *           ps.addBatch();
 *         }
 *         ps.executeBatch(); // same transaction as the seq: committed together or not at all
 *       }
 *     };
 *     StreamConsumer<Connection> consumer = StreamConsumer.start(
 *         URI.create(System.getenv("ORDERPUSH_URL")), System.getenv("ORDERPUSH_TOKEN"),
 *         store, save, ConsumerOptions.defaults(), new ConsumerListener() {
 *           public void batchFailed(Batch b, Exception e, java.time.Duration retryIn) {
 *             System.err.println("merchant " + b.merchantId() + ": " + e + ", retry in " + retryIn);
 *           }
 *         });
 *     Runtime.getRuntime().addShutdownHook(new Thread(consumer::close)); // acks what finished
 *     Thread.currentThread().join();
 *   }
 * }
 * }</pre>
 *
 * Run as many of these as you like for one app: the gateway splits the merchants between them.
 *
 * <h2>HTTP callbacks</h2>
 *
 * {@link io.orderpush.client.CallbackReceiver} verifies, parses and applies one request from any
 * HTTP server: {@code receiver.handle(bodyBytes, headers).status()} is the status to answer.
 *
 * <h2>Replay and cursors</h2>
 *
 * {@link io.orderpush.client.OrderPushClient}: {@code replay(merchantId, fromSeq)} iterates the
 * stored events a page at a time, {@code channels()} lists the app's channels, {@code
 * setCursor(merchantId, seq)} rewinds or skips.
 *
 * <p>Every event carries {@code prevSeq} (the seq of the previous event sent to this app for the
 * merchant); a store refuses an event whose {@code prevSeq} lies above the last applied seq with
 * {@link io.orderpush.client.GapException}, so nothing is skipped unnoticed.
 */
package io.orderpush.client;
