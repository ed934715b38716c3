package io.orderpush.client;

import com.fasterxml.jackson.databind.JsonNode;
import io.orderpush.client.impl.Backoff;
import io.orderpush.client.impl.Json;
import io.orderpush.client.impl.WsSession;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.WebSocketHandshakeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * A WebSocket consumer of one app (docs/websocket.md): one connection to {@code /v1/stream}, kept
 * open (reconnecting with backoff and jitter), whose merchants' batches go to a {@link
 * BatchHandler} through an {@link AppliedStore}, each merchant in seq order and up to {@code
 * parallelism} merchants at once, each batch acknowledged once it is applied.
 *
 * <p>Several consumers of one app (threads, processes, machines) form a consumer group: the gateway
 * splits the merchants between their connections and moves them when one joins or leaves. Work for
 * a merchant that moved away is dropped, never acknowledged; the new owner gets it again from the
 * cursor, and the store skips what was applied.
 *
 * <pre>{@code
 * StreamConsumer<Connection> consumer =
 *     StreamConsumer.start(URI.create("https://push.example.com"), token,
 *         JdbcAppliedStore.of(dataSource, "orderpush_applied").createTable(),
 *         (batch, tx) -> saveOrders(batch, tx),
 *         ConsumerOptions.defaults(), ConsumerListener.NONE);
 * ...
 * consumer.close(); // acks what finished
 * }</pre>
 */
public final class StreamConsumer<T> implements AutoCloseable {

  private static final long CLOSE_WAIT_NANOS = TimeUnit.SECONDS.toNanos(5);

  private final URI streamUri;
  private final String token;
  private final ConsumerOptions options;
  private final ConsumerListener listener;
  private final HttpClient http;
  private final ExecutorService workers;
  private final ScheduledExecutorService timer;
  private final MerchantLane.Context<T> laneContext;
  private final ConcurrentMap<String, MerchantLane<T>> lanes = new ConcurrentHashMap<>();
  private final AtomicInteger failedConnects = new AtomicInteger();

  /** A refused upgrade's {@code Retry-After}: the next attempt waits at least this long. */
  private volatile Duration refusedFor = Duration.ZERO;

  private volatile WsSession session;
  private volatile String connectionId;
  private volatile boolean closing;

  private StreamConsumer(
      URI base,
      String token,
      AppliedStore<T> store,
      BatchHandler<T> handler,
      ConsumerOptions options,
      ConsumerListener listener) {
    String scheme = "https".equals(base.getScheme()) ? "wss" : "ws";
    this.streamUri = URI.create(scheme + "://" + base.getRawAuthority() + "/v1/stream");
    this.token = token;
    this.options = options;
    this.listener = listener;
    this.http = HttpClient.newBuilder().connectTimeout(options.connectTimeout()).build();
    this.workers = Executors.newFixedThreadPool(options.parallelism(), daemon("orderpush-apply"));
    this.timer = Executors.newSingleThreadScheduledExecutor(daemon("orderpush-timer"));
    this.laneContext =
        new MerchantLane.Context<>(store, handler, listener, options, workers, timer);
  }

  /**
   * Starts consuming: connects in the background and keeps connected until {@link #close()}.
   *
   * @param base the gateway, e.g. {@code https://push.example.com}
   * @param appToken the app's token ({@code gwa_...})
   */
  public static <T> StreamConsumer<T> start(
      URI base,
      String appToken,
      AppliedStore<T> store,
      BatchHandler<T> handler,
      ConsumerOptions options,
      ConsumerListener listener) {
    StreamConsumer<T> c = new StreamConsumer<>(base, appToken, store, handler, options, listener);
    long every = Math.max(100, options.idleTimeout().toMillis() / 4);
    c.timer.scheduleWithFixedDelay(c::checkIdle, every, every, TimeUnit.MILLISECONDS);
    c.connect();
    return c;
  }

  /** The merchants this consumer holds now. */
  public Set<String> assigned() {
    WsSession s = session;
    return lanes.entrySet().stream()
        .filter(e -> s != null && e.getValue().heldBy(s))
        .map(java.util.Map.Entry::getKey)
        .collect(Collectors.toUnmodifiableSet());
  }

  /** The {@code connectionId} of the open connection's hello, or null between connections. */
  public String connectionId() {
    WsSession s = session;
    return s != null && s.isOpen() ? connectionId : null;
  }

  private void connect() {
    if (closing) {
      return;
    }
    WsSession s = new WsSession(new SessionEvents(), options.maxMessageChars());
    session = s;
    http.newWebSocketBuilder()
        .header("Authorization", "Bearer " + token)
        .connectTimeout(options.connectTimeout())
        .buildAsync(streamUri, s)
        .whenComplete(
            (ws, e) -> {
              if (e != null) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                String why =
                    cause instanceof WebSocketHandshakeException h
                        ? refused(h.getResponse())
                        : "connecting failed: " + cause;
                s.abort(why);
              } else if (closing) {
                s.abort("closed while connecting");
              }
            });
  }

  /** Longest {@code Retry-After} honoured: a wrong value must not stop the consumer for days. */
  static final long MAX_RETRY_AFTER_SECONDS = 3600;

  /**
   * Why the gateway refused the upgrade (its status, JSON error code and message), and from its
   * {@code Retry-After} (429 past the failed-authentication limit, 503) when to try again.
   */
  private String refused(HttpResponse<?> r) {
    StringBuilder why =
        new StringBuilder("the gateway refused the connection: HTTP ").append(r.statusCode());
    if (r.body() instanceof String body && !body.isEmpty()) {
      try {
        JsonNode n = Json.tree(body);
        String code = Json.text(n, "error");
        String message = Json.text(n, "message");
        if (code != null) {
          why.append(' ').append(code);
        }
        if (message != null) {
          why.append(": ").append(message);
        }
      } catch (OrderPushException notJson) {
        // the status says enough
      }
    }
    r.headers()
        .firstValue("Retry-After")
        .ifPresent(
            v -> {
              try {
                long seconds = Long.parseLong(v.trim());
                if (seconds > 0) {
                  refusedFor = Duration.ofSeconds(Math.min(seconds, MAX_RETRY_AFTER_SECONDS));
                }
              } catch (NumberFormatException httpDate) {
                // an HTTP date: the gateway sends seconds; back off as usual
              }
            });
    return why.toString();
  }

  private void checkIdle() {
    WsSession s = session;
    if (s != null && s.isOpen()) {
      long quiet = System.nanoTime() - s.lastHeardNanos();
      if (quiet > options.idleTimeout().toNanos()) {
        s.abort("nothing heard for " + TimeUnit.NANOSECONDS.toMillis(quiet) + " ms");
      }
    }
  }

  private final class SessionEvents implements WsSession.Events {

    @Override
    public void message(WsSession s, String text) {
      if (!s.isOpen()) {
        return; // arrived after the connection was given up
      }
      JsonNode msg;
      try {
        msg = Json.tree(text);
      } catch (OrderPushException e) {
        listener.protocolError(e.getMessage());
        return;
      }
      String type = Json.text(msg, "type");
      switch (type == null ? "" : type) {
        case "hello" -> {
          connectionId = Json.text(msg, "connectionId");
          failedConnects.set(0);
          listener.connected(connectionId);
        }
        case "assigned" -> {
          List<String> ms = Json.strings(msg.get("merchants"));
          JsonNode number = msg.get("assignment");
          long assignment = number != null && number.canConvertToLong() ? number.asLong() : 0;
          ms.forEach(m -> lane(m).assign(s, assignment));
          listener.assigned(ms);
        }
        case "unassigned" -> {
          List<String> ms = Json.strings(msg.get("merchants"));
          ms.forEach(m -> lane(m).release(s));
          listener.unassigned(ms);
        }
        case "events" -> events(s, msg);
        case "error" -> listener.serverError(Json.text(msg, "code"), Json.text(msg, "message"));
        default -> listener.protocolError("unknown message type " + type);
      }
    }

    private void events(WsSession s, JsonNode msg) {
      Batch batch;
      try {
        batch = Json.batch(msg);
      } catch (OrderPushException e) {
        listener.protocolError(e.getMessage());
        return;
      }
      if (batch.events().isEmpty()) {
        return;
      }
      if (closing) {
        return;
      }
      if (!lane(batch.merchantId()).offer(s, batch)) {
        listener.protocolError(
            "events of merchant " + batch.merchantId() + ", which this connection does not hold");
      }
    }

    @Override
    public void ended(WsSession s, String why) {
      lanes.values().forEach(l -> l.release(s));
      if (closing) {
        listener.disconnected(why, null);
        return;
      }
      Duration delay =
          Backoff.delay(
              options.initialBackoff(), options.maxBackoff(), failedConnects.getAndIncrement());
      Duration asked = refusedFor;
      refusedFor = Duration.ZERO;
      if (asked.compareTo(delay) > 0) {
        delay = asked;
      }
      listener.disconnected(why, delay);
      try {
        timer.schedule(StreamConsumer.this::connect, delay.toMillis(), TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException closed) {
        // closed meanwhile
      }
    }
  }

  private MerchantLane<T> lane(String merchantId) {
    return lanes.computeIfAbsent(merchantId, m -> new MerchantLane<>(laneContext));
  }

  /**
   * Stops: drops batches not started, waits up to {@code shutdownTimeout} for the running ones and
   * sends their acks, then closes the connection (1000). What was not acked is delivered again to
   * the next consumer, and skipped by the store if it was applied.
   */
  @Override
  public void close() {
    if (closing) {
      return;
    }
    closing = true;
    lanes.values().forEach(MerchantLane::stop);
    long deadline = System.nanoTime() + options.shutdownTimeout().toNanos();
    List<String> unfinished = new ArrayList<>();
    try {
      for (var e : lanes.entrySet()) {
        if (!e.getValue().awaitIdle(deadline)) {
          unfinished.add(e.getKey());
        }
      }
      WsSession s = session;
      if (s != null && s.isOpen()) {
        // The close frame goes after the acks; then wait for the gateway's close, since dropping
        // the socket with unread data could reset it before the acks are out.
        long left = Math.max(CLOSE_WAIT_NANOS, deadline - System.nanoTime());
        try {
          s.close(1000, "consumer closed")
              .thenCompose(x -> s.whenEnded())
              .get(left, TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.ExecutionException
            | java.util.concurrent.TimeoutException e) {
          s.abort("close failed: " + e);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      WsSession s = session;
      if (s != null) {
        s.abort(
            unfinished.isEmpty()
                ? "consumer closed"
                : "consumer closed; batches of " + unfinished + " still running");
      }
      workers.shutdownNow();
      timer.shutdownNow();
    }
  }

  /**
   * Drops the connection at once, as a crash would: nothing more is acknowledged, running handlers
   * are interrupted. For tests and emergencies; {@link #close()} is the clean way.
   */
  public void abort() {
    closing = true;
    lanes.values().forEach(MerchantLane::stop);
    WsSession s = session;
    if (s != null) {
      s.abort("consumer aborted");
    }
    workers.shutdownNow();
    timer.shutdownNow();
  }

  private static ThreadFactory daemon(String name) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
