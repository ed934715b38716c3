package io.orderpush.client;

/**
 * The application's work for one batch. It receives only events not applied yet (possibly fewer
 * than were delivered, never an empty batch) and the store's transaction context: the JDBC {@link
 * java.sql.Connection} of the transaction that also records the applied seq for {@link
 * JdbcAppliedStore}, nothing ({@code null}) for {@link MemoryAppliedStore}. Throwing rolls the
 * batch back: it is neither recorded nor acknowledged, and is tried again.
 *
 * @param <T> the transaction context of the store
 */
@FunctionalInterface
public interface BatchHandler<T> {

  void handle(Batch fresh, T tx) throws Exception;
}
