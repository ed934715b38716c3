package io.orderpush.gateway.ingest;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.Delivery;
import io.orderpush.delivery.cluster.CommitFrames;
import io.orderpush.gateway.http.AuthFailureLimiter;
import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.ServerWebSocketHandshake;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writer node's committed events, sent whole to the other nodes, so the channels they deliver
 * are fed from memory as on the writer instead of each reading every event back from PostgreSQL.
 *
 * <p>Every node follows the writer ({@link IngestWriter}): it keeps one WebSocket open to the
 * writer's {@value #PATH} and hands every frame it receives ({@link CommitFrames}: one per commit
 * group, encoded once) to {@link Delivery#committedElsewhere}, which wakes the channels and keeps
 * the events of the channels owned there in the tail cache (the others' are skipped undecoded). The
 * writer sends a frame to every follower whose connection can take it; when every other live node
 * got it, no head notice is published for that group, else the notice goes out as before. A frame
 * is only ever a shortcut: the tail cache keeps contiguous runs only, and everything else is read
 * from the log, so a frame lost with a connection costs at most the reconcile interval of latency,
 * never an event.
 *
 * <p>The followers prove they are nodes of the cluster with an HMAC of their node id and the time,
 * keyed by a key derived from the secret key every node already shares ({@code secret.key}); the
 * frames hold personal data, so nothing else may follow. Bounded: frames are at most {@link
 * #MAX_FRAME_BYTES} (a larger group goes out as several, each of whole merchants; a merchant whose
 * events in one group exceed it alone is not sent), and a follower whose connection holds {@link
 * #WRITE_QUEUE_BYTES} unsent gets no more frames until it drains (it hears notices meanwhile).
 */
public final class CommitFeed {

  public static final String PATH = "/internal/v1/commits";
  static final String NODE_HEADER = "X-Orderpush-Node";
  static final String TIME_HEADER = "X-Orderpush-Node-Time";
  static final int MAX_FRAME_BYTES = 4 * 1024 * 1024;
  static final int WRITE_QUEUE_BYTES = 8 * 1024 * 1024;
  static final long CLOCK_SKEW_MS = 60_000;

  /** How often a follower checks which node writes, and both ends say they are alive. */
  static final long TICK_MS = 1_000;

  /**
   * A connection silent for this long is closed at either end: the writer then publishes head
   * notices for that node again, and the follower connects anew. Without it a connection that a
   * network dropped silently would leave its follower without frames or notices until TCP gave up.
   */
  static final long SILENCE_MS = 3_000;

  /**
   * Both ends ping every tick and hear the other's pong (answered by Vert.x itself). Pings are
   * control frames, which may go between the pieces of a fragmented frame: data messages are only
   * ever written by the committer, so two threads never interleave them.
   */
  private static final Buffer PING = Buffer.buffer();

  /**
   * After a refused or failed upgrade, the next attempt waits this long, doubling up to a minute.
   */
  static final long FIRST_RETRY_MS = 1_000;

  static final long MAX_RETRY_MS = 60_000;

  /**
   * What the frames must mean the same on both ends, sent and compared at the upgrade: the frames'
   * layout version and the masking rules' fingerprint ({@code "<version> <fingerprint>"}).
   */
  static final String FEED_HEADER = "X-Orderpush-Feed";

  private static final Logger LOG = LoggerFactory.getLogger(CommitFeed.class);

  private final Vertx vertx;
  private final String nodeId;
  private final byte[] key;
  private final List<byte[]> accepted; // key, then those derived from the old secret keys
  private final Supplier<Set<String>> liveNodes;
  private final IngestWriter writer;
  private final String masks;
  private final Delivery delivery;
  private final Map<String, Follower> followers = new ConcurrentHashMap<>();
  private volatile boolean stopping;

  /** A node following this one, and when it was last heard of (any message). */
  private static final class Follower {
    final ServerWebSocket ws;
    volatile long heardAt = System.nanoTime();

    Follower(ServerWebSocket ws) {
      this.ws = ws;
    }
  }

  private final Counter sent;
  private final Counter dropped;
  private final Counter tooLarge;
  private final Counter received;
  private final Counter malformed;
  private final Counter refused;
  private final Counter silent;
  private final Counter masksDiffer;

  // The following side: confined to context.
  private volatile Context context;
  private WebSocketClient client;
  private long timer = -1;
  private String following; // the writer followed or being connected to
  private WebSocket connection;
  private long heardAt; // when the writer followed was last heard of (nanoTime)
  private long retryMs = FIRST_RETRY_MS;
  private long nextAttemptAt = System.nanoTime(); // no attempt before (nanoTime)...
  private String backingOff; // ...to this node; another writer is tried at once
  private boolean closed;

  public CommitFeed(
      Vertx vertx,
      String nodeId,
      byte[] secretKey,
      List<byte[]> oldSecretKeys,
      Supplier<Set<String>> liveNodes,
      IngestWriter writer,
      Delivery delivery,
      String masks,
      MeterRegistry registry) {
    this.vertx = vertx;
    this.nodeId = nodeId;
    this.key = derive(secretKey);
    List<byte[]> keys = new java.util.ArrayList<>();
    keys.add(key);
    oldSecretKeys.forEach(old -> keys.add(derive(old)));
    this.accepted = List.copyOf(keys);
    this.liveNodes = liveNodes;
    this.writer = writer;
    this.delivery = delivery;
    this.masks = CommitFrames.VERSION + " " + masks;
    sent = frames(registry, "sent");
    dropped = frames(registry, "dropped_queue_full");
    tooLarge = frames(registry, "too_large");
    received = frames(registry, "received");
    malformed = frames(registry, "malformed");
    refused = frames(registry, "follower_refused");
    silent = frames(registry, "connection_silent");
    masksDiffer = frames(registry, "follower_masks_differ");
    Gauge.builder("gateway.ingest.commit.followers", followers, Map::size)
        .description("nodes following this one's commits (it is, or was, the writer)")
        .register(registry);
  }

  private static Counter frames(MeterRegistry registry, String outcome) {
    return Counter.builder("gateway.ingest.commit.frames")
        .tag("outcome", outcome)
        .description("frames of committed events fed between nodes, by outcome")
        .register(registry);
  }

  /**
   * Starts following the writer node, checking every second which node that is, on a context of its
   * own (a verticle's): frames are encoded and written there, off the committer's way to its
   * answers, in commit order.
   */
  public Future<Void> start() {
    Context[] own = new Context[1];
    return vertx
        .deployVerticle(
            new VerticleBase() {
              @Override
              public Future<?> start() {
                own[0] = context;
                return Future.succeededFuture();
              }
            })
        .map(
            id -> {
              context = own[0];
              context.runOnContext(
                  v -> {
                    client =
                        vertx.createWebSocketClient(
                            new WebSocketClientOptions()
                                .setConnectTimeout(5_000)
                                // a connection given up as silent is not waited for: its close
                                // handshake may never come back
                                .setClosingTimeout(1)
                                .setMaxFrameSize(MAX_FRAME_BYTES + 1024)
                                .setMaxMessageSize(MAX_FRAME_BYTES + 1024));
                    timer =
                        vertx.setPeriodic(
                            0,
                            TICK_MS,
                            t -> {
                              keepFollowersAlive();
                              follow();
                            });
                  });
              return null;
            });
  }

  // ---- the writer's side

  /**
   * Sends a committed group to the followers, on the feed's context. Any thread.
   *
   * @return whether every other live node follows with room in its queue (then no head notice is
   *     needed: should the group still not reach one of them whole, the notice goes out from here)
   */
  public boolean committed(Map<String, List<LoggedEvent>> stored) {
    Context own = context;
    if (followers.isEmpty() || own == null) {
      return false;
    }
    boolean fed = allFollowWithRoom();
    own.runOnContext(v -> send(stored, fed));
    return fed;
  }

  private boolean allFollowWithRoom() {
    for (String id : liveNodes.get()) {
      if (!id.equals(nodeId)) {
        Follower f = followers.get(id);
        if (f == null || f.ws.writeQueueFull()) {
          return false;
        }
      }
    }
    return true;
  }

  /** Feed context only: frames and pings are written from here alone, in commit order. */
  private void send(Map<String, List<LoggedEvent>> stored, boolean noticeSkipped) {
    CommitFrames.Split split = CommitFrames.encodeSplit(nodeId, stored, MAX_FRAME_BYTES);
    boolean whole = split.whole();
    if (!whole) {
      tooLarge.increment();
    }
    for (Follower f : followers.values()) {
      for (Buffer frame : split.frames()) {
        if (f.ws.writeQueueFull()) {
          dropped.increment();
          whole = false;
        } else {
          f.ws.writeBinaryMessage(frame);
          sent.increment();
        }
      }
    }
    if (noticeSkipped && !(whole && allFollowWithRoom())) {
      delivery.tellOthers(stored);
    }
  }

  /**
   * A follower's upgrade on {@value #PATH}: accepted only with a valid node signature; failures
   * count against the caller's address in {@code limiter}.
   */
  public void handshake(ServerWebSocketHandshake hs, AuthFailureLimiter limiter) {
    if (limiter.refuses(hs.remoteAddress(), "node")) {
      hs.reject(429);
      return;
    }
    if (stopping) {
      hs.reject(503);
      return;
    }
    String follower = hs.headers().get(NODE_HEADER);
    String time = hs.headers().get(TIME_HEADER);
    String auth = hs.headers().get("Authorization");
    if (!valid(follower, time, auth, System.currentTimeMillis())) {
      refused.increment();
      limiter.failed(hs.remoteAddress(), "node");
      hs.reject(401);
      return;
    }
    if (!masks.equals(hs.headers().get(FEED_HEADER))) {
      // Same cluster, other masking rules (a rolling change of masking.paths) or another frame
      // layout (a rolling upgrade): the frames carry this node's masked renderings, which that
      // node must not send as its own, in a layout it may not read. It reads the log.
      masksDiffer.increment();
      hs.reject(409);
      return;
    }
    hs.accept()
        .onSuccess(
            ws -> {
              if (stopping) {
                ws.close((short) 1001, "stopping");
                return;
              }
              ws.setWriteQueueMaxSize(WRITE_QUEUE_BYTES);
              Follower f = new Follower(ws);
              Follower before = followers.put(follower, f);
              if (stopping && followers.remove(follower, f)) {
                ws.close((short) 1001, "stopping");
                return;
              }
              if (before != null) {
                before.ws.close((short) 1000, "replaced");
              }
              LOG.info("node {} follows this node's commits", follower);
              ws.closeHandler(v -> followers.remove(follower, f));
              ws.exceptionHandler(e -> LOG.debug("follower {}: {}", follower, e.toString()));
              ws.pongHandler(pong -> f.heardAt = System.nanoTime());
              ws.handler(ignored -> {}); // followers send no data
            })
        .onFailure(e -> LOG.warn("follower {}'s upgrade failed: {}", follower, e.toString()));
  }

  boolean valid(String follower, String time, String auth, long now) {
    if (follower == null || time == null || auth == null || !auth.startsWith("Node ")) {
      return false;
    }
    long at;
    try {
      at = Long.parseLong(time);
    } catch (NumberFormatException e) {
      return false;
    }
    if (Math.abs(now - at) > CLOCK_SKEW_MS || follower.equals(nodeId)) {
      return false;
    }
    byte[] given;
    try {
      given = Base64.getUrlDecoder().decode(auth.substring(5).trim());
    } catch (IllegalArgumentException e) {
      return false;
    }
    for (byte[] k : accepted) {
      if (MessageDigest.isEqual(given, hmac(k, follower + "\n" + time))) {
        return true;
      }
    }
    return false;
  }

  /**
   * The feed's own key: nodes sign with the one of their secret key, and during a rotation of it
   * (docs/operations.md) the writer also takes those of its old keys.
   */
  private static byte[] derive(byte[] secretKey) {
    return hmac(secretKey, "orderpush commit feed v1");
  }

  String signature(String follower, long time) {
    return "Node "
        + Base64.getUrlEncoder().withoutPadding().encodeToString(hmac(key, follower + "\n" + time));
  }

  /** Drops followers silent for {@link #SILENCE_MS} (they get notices again), greets the rest. */
  private void keepFollowersAlive() {
    long now = System.nanoTime();
    followers.forEach(
        (id, f) -> {
          if (now - f.heardAt > SILENCE_MS * 1_000_000) {
            if (followers.remove(id, f)) {
              silent.increment();
              LOG.warn("node {} fell silent: no longer fed, it hears head notices", id);
              f.ws.close((short) 1001, "silent");
            }
          } else {
            f.ws.writePing(PING);
          }
        });
  }

  // ---- the followers' side

  /** Follows the current writer: connects to it, or drops a connection to a node that is not. */
  private void follow() {
    if (closed) {
      return;
    }
    String[] target = writer.writerNode();
    String id = target == null ? null : target[0];
    if (connection != null && System.nanoTime() - heardAt > SILENCE_MS * 1_000_000) {
      silent.increment();
      LOG.warn("node {} fell silent: connecting again", following);
      connection.close((short) 1001, "silent");
      connection = null;
      following = null;
    }
    if (id != null && id.equals(following)) {
      if (connection != null) {
        connection.writePing(PING);
      }
      return; // following it already, or connecting
    }
    if (connection != null) {
      connection.close((short) 1000, "another writer");
      connection = null;
    }
    if (id == null || id.equals(backingOff) && System.nanoTime() < nextAttemptAt) {
      following = null;
      return;
    }
    following = id;
    URI base = URI.create(target[1]);
    long now = System.currentTimeMillis();
    WebSocketConnectOptions options =
        new WebSocketConnectOptions()
            .setHost(base.getHost())
            .setPort(base.getPort())
            .setSsl("https".equals(base.getScheme()))
            .setURI(PATH)
            .setTimeout(5_000)
            .addHeader(NODE_HEADER, nodeId)
            .addHeader(TIME_HEADER, Long.toString(now))
            .addHeader(FEED_HEADER, masks)
            .addHeader("Authorization", signature(nodeId, now));
    client
        .connect(options)
        .onComplete(
            ar -> {
              if (ar.failed() || closed || !id.equals(following)) {
                if (ar.succeeded()) {
                  ar.result().close();
                } else {
                  // refused (a key or masking rules that differ) or unreachable: back off, so a
                  // node that cannot follow never trips the writer's failed-authentication limit
                  if (!id.equals(backingOff)) {
                    backingOff = id;
                    retryMs = FIRST_RETRY_MS;
                  }
                  nextAttemptAt = System.nanoTime() + retryMs * 1_000_000;
                  retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
                  LOG.debug("following node {} failed: {}", id, ar.cause().toString());
                }
                if (id.equals(following)) {
                  following = null; // try again at the next check
                }
                return;
              }
              WebSocket ws = ar.result();
              connection = ws;
              backingOff = null;
              retryMs = FIRST_RETRY_MS;
              heardAt = System.nanoTime();
              LOG.info("following the commits of node {}", id);
              ws.pongHandler(pong -> heardAt = System.nanoTime());
              ws.binaryMessageHandler(
                  frame -> {
                    heardAt = System.nanoTime();
                    // one frame at a time: the rest waits in the socket, and past the writer's
                    // queue limit it sends notices instead
                    ws.pause();
                    onFrame(frame).onComplete(done -> ws.resume());
                  });
              ws.closeHandler(
                  v -> {
                    if (connection == ws) {
                      connection = null;
                      following = null;
                    }
                  });
              ws.exceptionHandler(e -> LOG.debug("following node {}: {}", id, e.toString()));
            });
  }

  private Future<Void> onFrame(Buffer frame) {
    return delivery
        .committedElsewhere(frame)
        .onSuccess(v -> received.increment())
        .onFailure(
            e -> {
              malformed.increment();
              LOG.warn("a commit frame was refused: {}", e.getMessage());
            });
  }

  /** Stops following and closes the followers' connections. Never fails. */
  public Future<Void> close() {
    stopping = true;
    // cleared first: a group committed while this node drains gets head notices again
    List<Follower> gone = List.copyOf(followers.values());
    followers.clear();
    gone.forEach(f -> f.ws.close((short) 1001, "stopping"));
    if (context == null) {
      return Future.succeededFuture();
    }
    return Future.<Void>future(
            p ->
                context.runOnContext(
                    v -> {
                      closed = true;
                      vertx.cancelTimer(timer);
                      if (connection != null) {
                        connection.close((short) 1001, "stopping");
                      }
                      (client == null ? Future.<Void>succeededFuture() : client.close())
                          .timeout(2, java.util.concurrent.TimeUnit.SECONDS)
                          .onComplete(x -> p.complete());
                    }))
        .otherwiseEmpty();
  }

  private static byte[] hmac(byte[] key, String message) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(message.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
