package io.orderpush.gateway.ingest;

import io.lettuce.core.KeyValue;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which node of the cluster writes ingest batches to PostgreSQL: the live node with the smallest
 * node id whose address is known. Nodes that write the same merchants contend on their head rows
 * (every transaction locks the heads of its merchants until it commits, and a node that expects
 * heads another node moved has its group refused), so a cluster writes through one node and the
 * others send their batches to it (parsed, over the commit feed: {@link CommitFeed#append}; or as
 * they came, over HTTP: {@link IngestForwarder}). Correctness never depends on it: while views
 * differ, or when the writer cannot be reached, a node writes itself.
 *
 * <p>Each node keeps its base URL in a key of its own ({@code gw:addr:{cluster}:<node id>}, one
 * hash slot for the cluster's keys), written at start and every {@link #REFRESH_MS} with a time to
 * live of {@link #TTL_MS}, so a node that dies leaves nothing behind; removed on a graceful stop.
 * The live nodes' addresses are read back at the same pace, in one {@code MGET}. The live nodes
 * come from the node lease's view. Started and stopped on {@code context}; {@link #writerNode} may
 * be called from any thread.
 */
public final class IngestWriter {

  private static final Logger LOG = LoggerFactory.getLogger(IngestWriter.class);
  static final long REFRESH_MS = 5_000;

  /**
   * How long an address stays in Redis unless rewritten: a node that died leaves nothing behind.
   */
  static final long TTL_MS = 6 * REFRESH_MS;

  private final Vertx vertx;
  private final Context context;
  private final RedisStore redis;
  private final String key;
  private final String nodeId;
  private final String url;
  private final Supplier<Set<String>> liveNodes;
  private volatile Map<String, String> addresses = Map.of();
  private long timer = -1;
  private final java.util.concurrent.atomic.AtomicReference<String> lastWriter =
      new java.util.concurrent.atomic.AtomicReference<>();
  private final io.micrometer.core.instrument.Counter changes;

  /**
   * @param cluster the cluster's name (it tags the hash's key)
   * @param url this node's base URL as the others reach it, or null: it writes what it takes and is
   *     never chosen
   * @param liveNodes the node ids of the live nodes (the lease's view)
   * @param registry where the changes of writer this node sees are counted
   */
  public IngestWriter(
      Vertx vertx,
      Context context,
      RedisStore redis,
      String cluster,
      String nodeId,
      String url,
      Supplier<Set<String>> liveNodes,
      io.micrometer.core.instrument.MeterRegistry registry) {
    this.vertx = vertx;
    this.context = context;
    this.redis = redis;
    this.key = "gw:addr:{" + cluster + "}:";
    this.nodeId = nodeId;
    this.url = url;
    this.liveNodes = liveNodes;
    this.changes =
        io.micrometer.core.instrument.Counter.builder("gateway.ingest.writer.changes")
            .description("times this node found another node writing ingest batches than before")
            .register(registry);
  }

  /** Publishes this node's address and reads the others'; completes after the first attempt. */
  public Future<Void> start() {
    Future<Void> first = Future.future(p -> context.runOnContext(v -> refresh().onComplete(p)));
    context.runOnContext(v -> timer = vertx.setPeriodic(REFRESH_MS, REFRESH_MS, id -> refresh()));
    return first.otherwiseEmpty();
  }

  private Future<Void> refresh() {
    Future<?> publish =
        url == null
            ? Future.succeededFuture()
            : redis.call(
                context, c -> c.set(key + nodeId, url, io.lettuce.core.SetArgs.Builder.px(TTL_MS)));
    String[] others =
        liveNodes.get().stream()
            .filter(id -> !id.equals(nodeId))
            .map(id -> key + id)
            .toArray(String[]::new);
    return publish
        .compose(
            v ->
                others.length == 0
                    ? Future.succeededFuture(List.<KeyValue<String, String>>of())
                    : redis.call(context, c -> c.mget(others)))
        .onSuccess(
            found -> {
              Map<String, String> known = new HashMap<>();
              found.forEach(
                  kv -> kv.ifHasValue(v -> known.put(kv.getKey().substring(key.length()), v)));
              addresses = Map.copyOf(known);
            })
        .onFailure(e -> LOG.debug("reading the nodes' addresses failed: {}", e.toString()))
        .<Void>mapEmpty();
  }

  /**
   * The writer node's id and base URL when it is another node, else null (this node writes, it is
   * alone, or no writer's address is known). Any thread.
   */
  public String[] writerNode() {
    String[] writer = writer();
    return writer == null || writer[0].equals(nodeId) ? null : writer;
  }

  private String[] writer() {
    Set<String> live = liveNodes.get();
    if (live.size() < 2) {
      return null;
    }
    Map<String, String> known = addresses;
    for (String id : live) { // sorted: the smallest id with an address writes
      String address = id.equals(nodeId) ? url : known.get(id);
      if (address != null) {
        noteWriter(id);
        return new String[] {id, address};
      }
    }
    return null;
  }

  private void noteWriter(String id) {
    if (!id.equals(lastWriter.get()) && !id.equals(lastWriter.getAndSet(id))) {
      changes.increment();
      LOG.info("ingest batches are written through node {}", id);
    }
  }

  /** Stops refreshing and removes this node's address (graceful stop). Never fails. */
  public Future<Void> stop() {
    return Future.<Void>future(
            p ->
                context.runOnContext(
                    v -> {
                      vertx.cancelTimer(timer);
                      p.complete();
                    }))
        .compose(
            v ->
                url == null
                    ? Future.<Void>succeededFuture()
                    : redis.call(context, c -> c.del(key + nodeId)).<Void>mapEmpty())
        .otherwiseEmpty();
  }
}
