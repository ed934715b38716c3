package io.orderpush.gateway.ingest;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.Delivery;
import io.orderpush.delivery.cluster.CommitFrames;
import io.orderpush.delivery.cluster.ForwardedBatches;
import io.orderpush.delivery.cluster.ForwardedBatches.Outcome;
import io.orderpush.gateway.http.AuthFailureLimiter;
import io.orderpush.gateway.http.Failures;
import io.orderpush.gateway.http.Upgrade;
import io.orderpush.persistence.events.AppendResult;
import io.orderpush.persistence.events.IngestOverloadedException;
import io.orderpush.persistence.events.IngestTimeoutException;
import io.orderpush.persistence.events.LoggedEvent;
import io.orderpush.persistence.events.NewEvent;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.http.WebSocketFrame;
import io.vertx.ext.web.RoutingContext;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
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
 * <p>Both ends prove they hold the cluster's key, derived from the secret key every node already
 * shares ({@code secret.key}): the frames hold personal data, so nothing else may follow, and they
 * are delivered as committed events, so nothing else may feed them. A follower's upgrade carries an
 * HMAC of its node id, the writer it means and the URL it dialled (the writer takes its own only,
 * so an upgrade relayed from elsewhere fails), the time and a fresh nonce; the writer takes each
 * nonce once, and its first message is an HMAC of the nonce, both ids and the URL, without which
 * the follower takes no frame. Bounded: frames are at most {@link #MAX_FRAME_BYTES} (a larger group
 * goes out as several, each of whole merchants; a merchant whose events in one group exceed it
 * alone is not sent), and a follower whose connection holds {@link #WRITE_QUEUE_BYTES} unsent gets
 * no more frames until it drains (it hears notices meanwhile).
 *
 * <p>The same connection carries ingest the other way ({@link #append}): a node that is not the
 * writer parses, validates and masks each request it takes, as the writer would, and sends the
 * events ({@link ForwardedBatches}) to the writer it follows, which commits them and answers with
 * their seqs. So parsing, the largest part of ingest's CPU, is spread over the nodes where requests
 * land, and the writer only commits. A batch goes out in pieces of at most {@link #pieceBytes} (the
 * writer reads no larger WebSocket frame from anyone) and is read back whole on the writer, at most
 * {@link #maxBatchBytes}. Only a writer that proved it holds the key is sent a batch, and only a
 * follower that proved it is a node, with the same masking rules, can send one: a batch's masked
 * renderings are taken as they come. When the writer cannot take a batch (no proven connection, its
 * queue of unsent bytes full, no answer within the timeout from a writer fallen silent, the
 * connection lost, or it failed for another reason than a full queue or a slow commit), this node
 * writes the batch itself: one the writer did commit comes back as duplicates with the same seqs,
 * since ingest is idempotent by event id. A writer still heard that did not answer in time may
 * commit the batch yet: that request fails as a commit not confirmed in time does.
 */
public final class CommitFeed {

  public static final String PATH = "/internal/v1/commits";
  static final String NODE_HEADER = "X-Orderpush-Node";
  static final String TIME_HEADER = "X-Orderpush-Node-Time";
  static final String NONCE_HEADER = "X-Orderpush-Node-Nonce";

  /** The writer's first message on a feed connection: {@code proof <base64url HMAC>}. */
  static final String PROOF_PREFIX = "proof ";

  /** Nonces taken within the clock skew, at most: more valid upgrades than that are refused. */
  static final int MAX_NONCES = 4096;

  static final int MAX_FRAME_BYTES = 4 * 1024 * 1024;

  /**
   * Forwarded batches a writer commits at once for one follower, and their bytes; past either, it
   * answers overloaded (a lone batch is always taken).
   */
  static final int MAX_BATCHES_IN_FLIGHT = 256;

  static final long MAX_BATCH_BYTES_IN_FLIGHT = 64L * 1024 * 1024;

  /** The largest piece a batch is sent in, when the nodes' WebSocket frame limit allows it. */
  static final int MAX_PIECE_BYTES = 16 * 1024;

  static final int WRITE_QUEUE_BYTES = 8 * 1024 * 1024;

  /**
   * Commit frames a follower hands to its engine before it stops reading the writer's socket: four
   * of the largest.
   */
  static final long FRAMES_WAITING_BYTES = 4L * MAX_FRAME_BYTES;

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
   * layout version, the masking rules' fingerprint, the batches' piece size and the limits a
   * request's events were parsed under ({@code "<version> <fingerprint> <piece bytes> <limits>"},
   * {@link #feedHeader}).
   */
  static final String FEED_HEADER = "X-Orderpush-Feed";

  private static final Logger LOG = LoggerFactory.getLogger(CommitFeed.class);

  private final Vertx vertx;
  private final String nodeId;
  private final String ownUrl; // as the other nodes reach this one; null: it never writes
  private final byte[] key;
  private final List<byte[]> accepted; // key, then those derived from the old secret keys
  private final Supplier<Set<String>> liveNodes;
  private final IngestWriter writer;
  private final String masks;
  private final Delivery delivery;
  private final Map<String, Follower> followers = new ConcurrentHashMap<>();

  /** Nonces of accepted upgrades, and when they were taken (ms): each is taken once. */
  private final Map<String, Long> nonces = new ConcurrentHashMap<>();

  private final java.security.SecureRandom random = new java.security.SecureRandom();
  private volatile boolean stopping;

  /** A node following this one, and when it was last heard of (any message). */
  private static final class Follower {
    final ServerWebSocket ws;
    volatile long heardAt = System.nanoTime();

    /** The batch being read, piece by piece, on the connection's context; null between batches. */
    Buffer batch;

    /**
     * The batch being read is over {@link #maxBatchBytes}: its pieces are skipped, then refused
     * with the id its first piece gave ({@code batchId}, -1 when it gave none).
     */
    boolean oversized;

    long batchId;

    /**
     * Batches taken from it whose answers are not written yet, and their bytes: counted up on its
     * connection's context, down on the feed's once the answer is written.
     */
    final java.util.concurrent.atomic.AtomicInteger batchesInFlight =
        new java.util.concurrent.atomic.AtomicInteger();

    final AtomicLong bytesInFlight = new AtomicLong();

    /**
     * Dropped as silent (set on the feed context): with batches in flight, closed once they are
     * answered, so that a follower starved of CPU for a few seconds gets their answers rather than
     * writing them again itself; it is given no new batch meanwhile.
     */
    volatile boolean dropped;

    /** The connection's context, where its frames are read and {@link #heardAt} is set. */
    final Context context;

    /** A silence check posted to {@link #context} has not run yet (feed context only). */
    boolean checking;

    Follower(ServerWebSocket ws, Context context) {
      this.ws = ws;
      this.context = context;
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
  private final Counter limitsDiffer;
  private final Counter replayed;
  private final Counter unproven;
  private final Counter noncesFull;
  private final Counter forwarded;
  private final Counter writtenHere;
  private final Counter timedOut;
  private final Counter behind;
  private final Map<Outcome, Counter> batches = new java.util.EnumMap<>(Outcome.class);
  private final Counter batchesMalformed;

  // Ingest over the feed: the writer commits with committer, a follower waits for answers.
  private final Function<List<NewEvent>, Future<List<AppendResult>>> committer;
  private final int maxEvents;
  private final int pieceBytes;
  private final int maxBatchBytes;
  private final long forwardTimeoutMs;
  private final AtomicLong nextBatch = new AtomicLong();

  /** Batches sent to the writer and not answered yet, by id. */
  private final Map<Long, Forward> forwards = new ConcurrentHashMap<>();

  /** A batch sent, the connection it went on, and where its answer goes. */
  private record Forward(
      long id,
      List<NewEvent> events,
      Function<List<NewEvent>, Future<List<AppendResult>>> here,
      Promise<List<AppendResult>> answer,
      Context caller,
      WebSocket ws,
      long timer) {}

  // The following side: confined to context.
  private volatile Context context;
  private WebSocketClient client;
  private long timer = -1;
  private String following; // the writer followed or being connected to
  private WebSocket connection;

  /**
   * The writer followed and its base URL, once it proved it holds the key (its frames are taken
   * only then); null before, and whenever there is no connection.
   */
  private volatile String[] provenWriter;

  private long heardAt; // when the writer followed was last heard of (nanoTime)

  /**
   * Bytes of commit frames handed to the engine and not taken yet, over every connection, and the
   * connection not read because they are past {@link #FRAMES_WAITING_BYTES} (null while read).
   */
  private volatile long framesWaiting; // written on the feed's context only

  private WebSocket notRead;
  private long lastTick; // when this node's last tick ran (nanoTime), 0 before the first
  private long connectedAt; // when that connection was made (nanoTime)
  private long retryMs = FIRST_RETRY_MS;
  private long nextAttemptAt = System.nanoTime(); // no attempt before (nanoTime)...
  private String backingOff; // ...to this node at this address ("<id> <url>"); others at once
  private String followingUrl; // the address of the writer followed
  private boolean closed;

  public CommitFeed(
      Vertx vertx,
      String nodeId,
      String ownUrl,
      byte[] secretKey,
      List<byte[]> oldSecretKeys,
      Supplier<Set<String>> liveNodes,
      IngestWriter writer,
      Delivery delivery,
      String masks,
      Ingest ingest,
      MeterRegistry registry) {
    this.vertx = vertx;
    this.nodeId = nodeId;
    this.ownUrl = ownUrl;
    this.key = derive(secretKey);
    List<byte[]> keys = new java.util.ArrayList<>();
    keys.add(key);
    oldSecretKeys.forEach(old -> keys.add(derive(old)));
    this.accepted = List.copyOf(keys);
    this.liveNodes = liveNodes;
    this.writer = writer;
    this.delivery = delivery;
    this.committer = ingest.committer();
    this.maxEvents = ingest.maxEvents();
    this.pieceBytes = Math.min(MAX_PIECE_BYTES, ingest.maxFrameBytes());
    this.maxBatchBytes = maxBatchBytes(ingest.maxRequestBytes(), ingest.maxEvents());
    this.forwardTimeoutMs = ingest.timeout().toMillis();
    this.masks = feedHeader(masks, ingest);
    sent = frames(registry, "sent");
    dropped = frames(registry, "dropped_queue_full");
    tooLarge = frames(registry, "too_large");
    received = frames(registry, "received");
    malformed = frames(registry, "malformed");
    refused = frames(registry, "follower_refused");
    silent = frames(registry, "connection_silent");
    masksDiffer = frames(registry, "follower_masks_differ");
    limitsDiffer = frames(registry, "follower_limits_differ");
    replayed = frames(registry, "follower_replayed");
    unproven = frames(registry, "writer_unproven");
    noncesFull = frames(registry, "follower_nonces_full");
    forwarded = IngestForwarder.outcome("forwarded", registry);
    writtenHere = IngestForwarder.outcome("written_here", registry);
    timedOut = IngestForwarder.outcome("timed_out", registry);
    behind = IngestForwarder.outcome("behind", registry);
    for (Outcome o : Outcome.values()) {
      batches.put(o, batchOutcome(registry, o.name().toLowerCase(java.util.Locale.ROOT)));
    }
    batchesMalformed = batchOutcome(registry, "malformed");
    Gauge.builder("gateway.ingest.commit.followers", followers, Map::size)
        .description("nodes following this one's commits (it is, or was, the writer)")
        .register(registry);
    Gauge.builder("gateway.ingest.feed.batches.waiting", forwards, Map::size)
        .description("ingest batches this node sent the writer that wait for its answer")
        .register(registry);
    Gauge.builder("gateway.ingest.feed.frames.waiting", () -> framesWaiting)
        .description("bytes of commit frames from the writer handed to the engine and not taken")
        .baseUnit("bytes")
        .register(registry);
  }

  /**
   * What ingest over the feed needs: the writer's committer, and the limits a batch is checked
   * against.
   *
   * @param committer appends a request's events (the node's group committer)
   * @param maxEvents events one request may carry ({@code ingest.max-events})
   * @param maxRequestBytes bytes one request body may have ({@code ingest.max-request-bytes})
   * @param maxFrameBytes the largest WebSocket frame the node reads from a client ({@code
   *     stream.max-client-message-bytes})
   * @param maxDataBytes bytes of one event's {@code data} ({@code ingest.max-data-bytes})
   * @param maxDataDepth levels {@code data} may nest ({@code ingest.max-data-depth})
   * @param timeout how long a forwarded batch may wait for its answer: then it fails as a commit
   *     not confirmed in time, or, when the writer fell silent, this node writes it
   */
  public record Ingest(
      Function<List<NewEvent>, Future<List<AppendResult>>> committer,
      int maxEvents,
      int maxRequestBytes,
      int maxFrameBytes,
      int maxDataBytes,
      int maxDataDepth,
      Duration timeout) {}

  /**
   * What a follower sends in {@link #FEED_HEADER}: the layout's version, the masking rules'
   * fingerprint, the size of the pieces batches are sent in (a writer reads no larger frame) and
   * the limits of {@code ingest.*} the node parses requests under. A writer takes batches only from
   * a node that parses as it would itself, so no event is stored that the writer would have
   * refused, and no batch is refused for a size the node allowed.
   */
  static String feedHeader(String masksFingerprint, Ingest limits) {
    return CommitFrames.VERSION
        + " "
        + masksFingerprint
        + " "
        + Math.min(MAX_PIECE_BYTES, limits.maxFrameBytes())
        + " e"
        + limits.maxEvents()
        + ",r"
        + limits.maxRequestBytes()
        + ",d"
        + limits.maxDataBytes()
        + ",n"
        + limits.maxDataDepth();
  }

  /** Whether two feed headers differ only in their ingest limits, the last of their fields. */
  static boolean sameUpToLimits(String ours, String theirs) {
    int cut = ours.lastIndexOf(' ');
    return theirs.length() > cut && theirs.regionMatches(0, ours, 0, cut + 1);
  }

  /**
   * The largest batch a request can make: its line and masked rendering are each at most about the
   * request's size (the copy of {@code data} is compact), plus each event's ids twice.
   */
  static int maxBatchBytes(int maxRequestBytes, int maxEvents) {
    return (int) Math.min(Integer.MAX_VALUE - 1024, 3L * maxRequestBytes + 1024L * maxEvents);
  }

  private static Counter batchOutcome(MeterRegistry registry, String outcome) {
    return Counter.builder("gateway.ingest.feed.batches")
        .tag("outcome", outcome)
        .description(
            "Ingest batches other nodes parsed and sent to this one, the writer, by how they were"
                + " answered")
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
                                .setMaxMessageSize(MAX_FRAME_BYTES + 1024)
                                // node to node: batches go unmasked (masking and unmasking them
                                // were a tenth to a sixth of both ends' Java samples); the
                                // writer accepts unmasked frames (HttpVerticle)
                                .setSendUnmaskedFrames(true));
                    timer =
                        vertx.setPeriodic(
                            0,
                            TICK_MS,
                            t -> {
                              boolean stalled = stalledSince(System.nanoTime());
                              keepFollowersAlive(stalled);
                              follow(stalled);
                            });
                  });
              return null;
            });
  }

  /** Bytes of the writer's frames handed to the engine and not taken yet (for tests). */
  long framesWaiting() {
    return framesWaiting;
  }

  /** The context the feed's frames and pings are written and read on (for tests). */
  Context context() {
    return context;
  }

  /** The context of node {@code id}'s connection, where its frames are read (for tests). */
  Context followerContext(String id) {
    Follower f = followers.get(id);
    return f == null ? null : f.context;
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
        if (f == null || !hasRoom(f.ws)) {
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
        if (!hasRoom(f.ws) || !write(f.ws, frame)) {
          dropped.increment();
          whole = false;
        } else {
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
   * count against the caller's address in {@code limiter}. Refusals are JSON errors; the follower
   * reads only their status.
   */
  public void upgrade(RoutingContext ctx, AuthFailureLimiter limiter) {
    if (!Upgrade.requested(ctx)) {
      Failures.send(ctx, 400, "upgrade_required", "the commit feed is a WebSocket upgrade", null);
      return;
    }
    Upgrade hs = Upgrade.of(ctx);
    if (limiter.refuse(hs, "node")) {
      return;
    }
    if (stopping) {
      hs.refuse(503, "unavailable", "this node is stopping", 1);
      return;
    }
    String follower = hs.headers().get(NODE_HEADER);
    String time = hs.headers().get(TIME_HEADER);
    String nonce = hs.headers().get(NONCE_HEADER);
    String auth = hs.headers().get("Authorization");
    long now = System.currentTimeMillis();
    byte[] signedWith = verify(follower, time, nonce, auth, now);
    if (signedWith == null) {
      refused.increment();
      hs.unauthorized(limiter, "node", "missing or wrong node signature");
      return;
    }
    String theirs = hs.headers().get(FEED_HEADER);
    if (!masks.equals(theirs)) {
      // Same cluster, other masking rules (a rolling change of masking.paths) or another frame
      // layout (a rolling upgrade): the frames carry this node's masked renderings, which that
      // node must not send as its own, in a layout it may not read. Or other ingest limits: its
      // batches would be parsed under limits this node does not hold. It reads the log and
      // writes its own requests.
      if (theirs != null && sameUpToLimits(masks, theirs)) {
        limitsDiffer.increment();
      } else {
        masksDiffer.increment();
      }
      hs.refuse(
          409,
          "feed_mismatch",
          "this node's masking rules, ingest limits or frame layout differ from yours");
      return;
    }
    int taken = take(nonce, now);
    if (taken > 0) {
      // a replayed upgrade: someone who saw one on the wire, not a node
      replayed.increment();
      hs.unauthorized(limiter, "node", "missing or wrong node signature");
      return;
    }
    if (taken < 0) {
      noncesFull.increment();
      hs.refuse(429, "too_many_upgrades", "too many node upgrades in the signature window", 1);
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
              // first, before any frame can be written to it (frames go to followers only)
              ws.writeTextMessage(
                  PROOF_PREFIX + proof(signedWith, nodeId, ownUrl, follower, nonce));
              Context read = Vertx.currentContext(); // the connection's
              Follower f = new Follower(ws, read != null ? read : context);
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
              ws.frameHandler(frame -> onBatchPiece(f, frame));
            })
        .onFailure(e -> LOG.warn("follower {}'s upgrade failed: {}", follower, e.toString()));
  }

  /**
   * A piece of a batch from a follower, on its connection's context: the batch is gathered whole,
   * then committed and answered. Followers send nothing else but control frames.
   */
  private void onBatchPiece(Follower f, WebSocketFrame frame) {
    // Any frame is word from it: its own pings each tick, a batch's pieces. Its pongs alone would
    // not do: a follower that stops reading its socket for a while (its engine busy with the
    // frames before) answers no ping meanwhile, though it is alive and sending.
    f.heardAt = System.nanoTime();
    if (frame.isBinary()) {
      Buffer first = frame.binaryData();
      f.batch = Buffer.buffer(frame.isFinal() ? first.length() : 4 * pieceBytes);
      f.oversized = false;
      f.batchId = first.length() >= 10 && ForwardedBatches.isBatch(first) ? first.getLong(2) : -1;
    } else if (!frame.isContinuation() || f.batch == null) {
      return; // not data of a batch: nothing a node sends
    }
    if (!f.oversized) {
      if (f.batch.length() + (long) frame.binaryData().length() > maxBatchBytes) {
        f.oversized = true; // its id is kept, to refuse it when its last piece comes
      } else {
        f.batch.appendBuffer(frame.binaryData());
      }
    }
    if (frame.isFinal()) {
      Buffer batch = f.batch;
      f.batch = null;
      onBatch(f, batch, f.oversized ? f.batchId : null);
    }
  }

  /**
   * A whole batch from a follower, on its connection's context.
   *
   * @param oversizedId the id of a batch that was over {@link #maxBatchBytes} (-1 when its first
   *     piece gave none), or null when it was not
   */
  private void onBatch(Follower f, Buffer message, Long oversizedId) {
    ForwardedBatches.Batch batch;
    try {
      if (oversizedId != null) {
        throw new IllegalArgumentException("a batch over " + maxBatchBytes + " bytes");
      }
      batch = ForwardedBatches.readBatch(message, maxEvents);
    } catch (IllegalArgumentException e) {
      batchesMalformed.increment();
      LOG.warn("a batch from a follower was refused: {}", e.getMessage());
      long id =
          oversizedId != null
              ? oversizedId
              : message.length() >= 10 && ForwardedBatches.isBatch(message)
                  ? message.getLong(2)
                  : -1;
      if (id >= 0) { // else it gets no answer: that node writes it itself when its time is up
        answer(f, ForwardedBatches.refused(id, Outcome.FAILED, e.getMessage()));
      }
      return;
    }
    // Counted in first, then checked: a follower dropped as silent meanwhile either sees this
    // batch in flight (and is closed after its answer) or is seen dropped here.
    long bytes = message.length();
    int inFlight = f.batchesInFlight.incrementAndGet();
    long inFlightBytes = f.bytesInFlight.addAndGet(bytes);
    Outcome refused = null;
    String why = null;
    if (f.dropped) {
      // closed once its batches in flight are answered, so it takes no new one, whose answer
      // could come after the close: that node writes it itself
      refused = Outcome.FAILED;
      why = "dropped as silent";
    } else if (stopping) {
      refused = Outcome.FAILED;
      why = "the writer is stopping";
    } else if (inFlight > MAX_BATCHES_IN_FLIGHT
        || inFlight > 1 && inFlightBytes > MAX_BATCH_BYTES_IN_FLIGHT) {
      refused = Outcome.OVERLOADED;
      why = "too many batches in flight from one node";
    }
    if (refused != null) {
      batches.get(refused).increment();
      answer(f, ForwardedBatches.refused(batch.id(), refused, why), bytes);
      return;
    }
    committer
        .apply(batch.events())
        .onComplete(
            ar -> {
              Outcome o = ar.succeeded() ? Outcome.COMMITTED : outcome(ar.cause());
              batches.get(o).increment();
              answer(
                  f,
                  o == Outcome.COMMITTED
                      ? ForwardedBatches.committed(batch.id(), ar.result())
                      : ForwardedBatches.refused(batch.id(), o, ar.cause().getMessage()),
                  bytes);
            });
  }

  private static Outcome outcome(Throwable failure) {
    if (failure instanceof IngestOverloadedException) {
      return Outcome.OVERLOADED;
    }
    return failure instanceof IngestTimeoutException ? Outcome.TIMED_OUT : Outcome.FAILED;
  }

  /**
   * Answers a follower from the feed's context, where its frames are written: an answer never lands
   * between the pieces of a frame. Answers are small, one per batch the follower sent, so they go
   * out whatever the connection's queue holds (behind the commit frames already in it).
   */
  private void answer(Follower f, Buffer answer) {
    answer(f, answer, -1);
  }

  /**
   * As {@link #answer(Follower, Buffer)}, for a batch that was in flight ({@code bytes} of it):
   * counted out once its answer is written, and a follower dropped as silent meanwhile is closed
   * after its last answer.
   */
  private void answer(Follower f, Buffer answer, long bytes) {
    Context own = context;
    if (own == null) { // not started: no frame is ever written, so nothing to land between
      write(f.ws, answer);
      answered(f, bytes);
      return;
    }
    own.runOnContext(
        v -> {
          write(f.ws, answer); // lost with a closed connection: that node writes it itself
          answered(f, bytes);
        });
  }

  private void answered(Follower f, long bytes) {
    if (bytes < 0) {
      return;
    }
    f.bytesInFlight.addAndGet(-bytes);
    if (f.batchesInFlight.decrementAndGet() == 0 && f.dropped) {
      sayGoodbye(f);
    }
  }

  /**
   * Ends a dropped follower's connection: the goodbye goes behind the answers already written, and
   * the follower closes once it has read them ({@link ForwardedBatches#goodbye}); one that does not
   * within a silence's time is closed from here.
   */
  private void sayGoodbye(Follower f) {
    if (!write(f.ws, ForwardedBatches.goodbye())) {
      return; // closed already
    }
    vertx.setTimer(
        SILENCE_MS,
        t -> {
          if (!f.ws.isClosed()) {
            f.ws.close((short) 1001, "silent");
          }
        });
  }

  /**
   * The key among those accepted that signed this upgrade to this node, or null when none did, it
   * is too old or too far ahead, or it names this node as the follower.
   */
  byte[] verify(String follower, String time, String nonce, String auth, long now) {
    if (follower == null
        || time == null
        || nonce == null
        || auth == null
        || !auth.startsWith("Node ")
        || !NONCE.matcher(nonce).matches()) {
      return null;
    }
    long at;
    try {
      at = Long.parseLong(time);
    } catch (NumberFormatException e) {
      return null;
    }
    if (Math.abs(now - at) > CLOCK_SKEW_MS || follower.equals(nodeId) || ownUrl == null) {
      return null;
    }
    byte[] given;
    try {
      given = Base64.getUrlDecoder().decode(auth.substring(5).trim());
    } catch (IllegalArgumentException e) {
      return null;
    }
    for (byte[] k : accepted) {
      if (MessageDigest.isEqual(given, hmac(k, signed(follower, nodeId, ownUrl, time, nonce)))) {
        return k;
      }
    }
    return null;
  }

  private static final java.util.regex.Pattern NONCE =
      java.util.regex.Pattern.compile("[A-Za-z0-9_-]{16,64}");

  /**
   * Takes a validly signed upgrade's nonce: 0 when it is new, 1 when it was taken before (within
   * the clock skew, after which its signature is too old anyway), -1 when {@link #MAX_NONCES} are
   * held.
   */
  int take(String nonce, long now) {
    if (nonces.size() >= MAX_NONCES) {
      nonces.values().removeIf(at -> now - at > 2 * CLOCK_SKEW_MS);
      if (nonces.size() >= MAX_NONCES) {
        return -1;
      }
    }
    return nonces.putIfAbsent(nonce, now) == null ? 0 : 1;
  }

  /**
   * What a follower signs: its id, the writer it means and the URL it dialled (a writer takes only
   * its own, so an upgrade relayed from another address fails), the time and its nonce.
   */
  private static String signed(
      String follower, String writer, String url, String time, String nonce) {
    return "follow\n" + follower + "\n" + writer + "\n" + url + "\n" + time + "\n" + nonce;
  }

  /** What the writer answers a follower with, signed by the key that follower signed with. */
  static String proof(byte[] key, String writer, String url, String follower, String nonce) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(hmac(key, "feed\n" + writer + "\n" + url + "\n" + follower + "\n" + nonce));
  }

  /**
   * The feed's own key: nodes sign with the one of their secret key, and during a rotation of it
   * (docs/operations.md) the writer also takes those of its old keys.
   */
  static byte[] derive(byte[] secretKey) {
    return hmac(secretKey, "orderpush commit feed v1");
  }

  String signature(String follower, String writer, String url, long time, String nonce) {
    return "Node "
        + Base64.getUrlEncoder()
            .withoutPadding()
            .encodeToString(hmac(key, signed(follower, writer, url, Long.toString(time), nonce)));
  }

  /**
   * Whether {@code message}, the first of writer {@code writer} dialled at {@code url}, proves it
   * holds the key.
   */
  boolean proves(String message, String writer, String url, String nonce) {
    return message.startsWith(PROOF_PREFIX)
        && MessageDigest.isEqual(
            message.substring(PROOF_PREFIX.length()).getBytes(StandardCharsets.US_ASCII),
            proof(key, writer, url, nodeId, nonce).getBytes(StandardCharsets.US_ASCII));
  }

  String nonce() {
    byte[] b = new byte[18];
    random.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /**
   * Pings the followers and drops those silent for {@link #SILENCE_MS} (they get notices again),
   * judged on each connection's own context.
   */
  private void keepFollowersAlive(boolean stalled) {
    long now = System.nanoTime();
    if (stalled) {
      // This node did not run for a while (a long collection, starved of CPU): what the others
      // sent meanwhile is still unread, so their silence is its own. They get a silence's time.
      followers.values().forEach(f -> f.heardAt = now);
    }
    Context own = context;
    followers.forEach(
        (id, f) -> {
          ping(f.ws);
          if (f.checking) {
            return; // its connection's event loop has not run the last check yet: behind
          }
          f.checking = true;
          // Judged where its frames are read: an event loop short of CPU reads late, and the
          // silence would be this node's own. A check that ran a tick late does not judge.
          f.context.runOnContext(
              v -> {
                boolean silentThen =
                    System.nanoTime() - now <= TICK_MS * 1_000_000
                        && now - f.heardAt > SILENCE_MS * 1_000_000;
                own.runOnContext(
                    x -> {
                      f.checking = false;
                      if (silentThen) {
                        drop(id, f);
                      }
                    });
              });
        });
  }

  /** Feed context: a follower found silent is fed no more (it hears head notices). */
  private void drop(String id, Follower f) {
    if (followers.remove(id, f)) {
      silent.increment();
      LOG.warn("node {} fell silent: no longer fed, it hears head notices", id);
      f.dropped = true;
      if (f.batchesInFlight.get() == 0) {
        sayGoodbye(f);
      } // else after its batches in flight are answered
    }
  }

  /**
   * Feed context, once per tick: whether this node's own tick came a silence late, since the last
   * one. Ticks run every {@link #TICK_MS}, so one that comes {@link #SILENCE_MS} after the last
   * means this node did not run meanwhile.
   */
  private boolean stalledSince(long now) {
    long last = lastTick;
    lastTick = now;
    return last != 0 && now - last > SILENCE_MS * 1_000_000;
  }

  // ---- the followers' side

  /** Follows the current writer: connects to it, or drops a connection to a node that is not. */
  private void follow(boolean stalled) {
    if (closed) {
      return;
    }
    String[] target = writer.writerNode();
    String id = target == null ? null : target[0];
    if (stalled) {
      heardAt = System.nanoTime(); // its silence was this node's own (keepFollowersAlive)
    }
    if (connection != null && writerSilent() && !notReading(connection) && !waitingOn(connection)) {
      // With batches waiting for their answers, it is kept until they are answered or time out
      // (the answers would be lost with it, and the batches written here again: duplicates to
      // their callers); meanwhile no new batch goes out on it.
      silent.increment();
      LOG.warn("node {} fell silent: connecting again", following);
      connection.close((short) 1001, "silent");
      connection = null;
      following = null;
      provenWriter = null;
    }
    if (connection != null
        && provenWriter == null
        && System.nanoTime() - connectedAt > SILENCE_MS * 1_000_000) {
      refuseWriter(connection, following, followingUrl, "sent no proof that it holds the key");
    }
    if (id != null && id.equals(following)) {
      if (connection != null) {
        ping(connection);
      }
      return; // following it already, or connecting
    }
    if (connection != null && waitingOn(connection)) {
      // Another node is the writer now (one with a smaller id joined, or this one's view
      // changed), but the one followed still owes answers to batches it was sent and may have
      // committed: closing now would lose them, and the batches written here again would be
      // duplicates to their callers. It is kept until they are answered or time out; new batches
      // meanwhile are written here (append sends only to the writer it follows).
      ping(connection);
      return;
    }
    if (connection != null) {
      connection.close((short) 1000, "another writer");
      connection = null;
      provenWriter = null;
    }
    if (id == null
        || (id + " " + target[1]).equals(backingOff) && System.nanoTime() < nextAttemptAt) {
      following = null;
      return;
    }
    following = id;
    followingUrl = target[1];
    URI base = URI.create(target[1]);
    long now = System.currentTimeMillis();
    String nonce = nonce();
    WebSocketConnectOptions options =
        new WebSocketConnectOptions()
            .setHost(base.getHost())
            .setPort(base.getPort())
            .setSsl("https".equals(base.getScheme()))
            .setURI(PATH)
            .setTimeout(5_000)
            .addHeader(NODE_HEADER, nodeId)
            .addHeader(TIME_HEADER, Long.toString(now))
            .addHeader(NONCE_HEADER, nonce)
            .addHeader(FEED_HEADER, masks)
            .addHeader("Authorization", signature(nodeId, id, target[1], now, nonce));
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
                  backOff(id, target[1]);
                  LOG.debug("following node {} failed: {}", id, ar.cause().toString());
                }
                if (id.equals(following)) {
                  following = null; // try again at the next check
                }
                return;
              }
              WebSocket ws = ar.result();
              ws.setWriteQueueMaxSize(WRITE_QUEUE_BYTES);
              connection = ws;
              provenWriter = null;
              heardAt = System.nanoTime();
              connectedAt = heardAt;
              ws.pongHandler(pong -> heardAt = System.nanoTime());
              ws.textMessageHandler(
                  message -> {
                    if (connection != ws) {
                      return;
                    }
                    if (provenWriter != null || !proves(message, id, target[1], nonce)) {
                      refuseWriter(ws, id, target[1], "answered with a wrong proof");
                      return;
                    }
                    provenWriter = new String[] {id, target[1]};
                    backingOff = null;
                    retryMs = FIRST_RETRY_MS;
                    LOG.info("following the commits of node {}", id);
                  });
              ws.binaryMessageHandler(
                  frame -> {
                    if (connection != ws) {
                      return;
                    }
                    if (provenWriter == null) {
                      refuseWriter(ws, id, target[1], "sent a frame before its proof");
                      return;
                    }
                    heardAt = System.nanoTime();
                    if (ForwardedBatches.isGoodbye(frame)) {
                      // dropped by the writer: every answer it owed came before this
                      ws.close((short) 1000, "dropped");
                      return;
                    }
                    if (ForwardedBatches.isAnswer(frame)) {
                      onAnswer(ws, frame);
                      return;
                    }
                    handOver(ws, frame);
                  });
              ws.closeHandler(
                  v -> {
                    if (connection == ws) {
                      connection = null;
                      following = null;
                      provenWriter = null;
                    }
                    forwards.values().forEach(fw -> writeHere(fw, ws));
                  });
              ws.exceptionHandler(e -> LOG.debug("following node {}: {}", id, e.toString()));
            });
  }

  /**
   * The node followed as the writer did not prove it holds the cluster's key: nothing it sent is
   * taken, the connection is closed and the next attempt backs off (meanwhile head notices and the
   * log serve). Feed context only.
   */
  private void refuseWriter(WebSocket ws, String id, String url, String why) {
    unproven.increment();
    LOG.warn("node {} at the writer's address {}: not followed", id, why);
    if (connection == ws) {
      connection = null;
      following = null;
      provenWriter = null;
    }
    ws.close((short) 1008, "unproven");
    backOff(id, url);
  }

  /**
   * The next attempt to follow {@code id} at {@code url} waits, from 1 s, doubling up to a minute;
   * the same node at another address is tried at once.
   */
  private void backOff(String id, String url) {
    String what = id + " " + url;
    if (!what.equals(backingOff)) {
      backingOff = what;
      retryMs = FIRST_RETRY_MS;
    }
    nextAttemptAt = System.nanoTime() + retryMs * 1_000_000;
    retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
  }

  /**
   * Whether node {@code id} at {@code url} is the writer this node follows and it proved it holds
   * the cluster's key: ingest batches are sent only there, so an address forged in Redis gets no
   * batch. Any thread.
   */
  public boolean proven(String id, String url) {
    String[] w = provenWriter;
    return w != null && w[0].equals(id) && w[1].equals(url);
  }

  /**
   * Appends a request's events that this node parsed: sent to the writer this node follows when it
   * proved it holds the key, else written here with {@code here}. Completes on the caller's context
   * with the events' results, or fails as the writer's committer did when its queue was full or its
   * commit was not confirmed in time ({@link IngestOverloadedException}, {@link
   * IngestTimeoutException}), or when the writer, still heard, did not answer in time ({@link
   * IngestTimeoutException}). Every other failure to forward ends in {@code here}. Any thread.
   */
  public Future<List<AppendResult>> append(
      List<NewEvent> events, Function<List<NewEvent>, Future<List<AppendResult>>> here) {
    String[] target = writer.writerNode();
    if (target == null || events.isEmpty()) {
      return here.apply(events); // this node writes (it is the writer, or no other is known)
    }
    Context own = context;
    if (own == null || stopping || !proven(target[0], target[1])) {
      writtenHere.increment(); // not following it yet, or its address is not its own
      return here.apply(events);
    }
    Context current = Vertx.currentContext();
    Context caller = current == null ? own : current;
    Promise<List<AppendResult>> answer = Promise.promise();
    long id = nextBatch.incrementAndGet();
    Buffer batch = ForwardedBatches.batch(id, events); // encoded here, off the feed's context
    own.runOnContext(v -> send(id, batch, events, here, answer, caller));
    return answer.future();
  }

  /** Feed context: sends a batch in pieces on the connection to the proven writer, if any. */
  private void send(
      long id,
      Buffer batch,
      List<NewEvent> events,
      Function<List<NewEvent>, Future<List<AppendResult>>> here,
      Promise<List<AppendResult>> answer,
      Context caller) {
    WebSocket ws = connection;
    if (ws != null && provenWriter != null && !closed && notReading(ws)) {
      // its answer would wait unread behind the frames: this node is overloaded
      behind.increment();
      caller.runOnContext(
          v ->
              answer.fail(
                  new IngestOverloadedException(
                      "this node is behind with the writer's commits; retry later")));
      return;
    }
    if (ws == null
        || provenWriter == null
        || closed
        || writerSilent()
        || !hasRoom(ws)
        || batch.length() > maxBatchBytes) {
      writeHere(new Forward(id, events, here, answer, caller, null, -1), null);
      return;
    }
    long timer =
        vertx.setTimer(
            forwardTimeoutMs,
            t -> {
              Forward late = forwards.get(id);
              if (late == null) {
                return;
              }
              if (late.ws() == connection
                  && (!writerSilent() || notReading(connection) || ownStall())) {
                // The writer is alive and has not answered (or this node did not read what it
                // sent): it may commit the batch yet, and the same events written here would
                // answer the caller that its new events are duplicates. The outcome is unknown,
                // as for a commit not confirmed in time.
                if (take(late)) {
                  timedOut.increment();
                  late.caller()
                      .runOnContext(
                          v ->
                              late.answer()
                                  .fail(
                                      new IngestTimeoutException(
                                          "the writer node did not answer within "
                                              + forwardTimeoutMs
                                              + " ms; the events may or may not be stored: retry"
                                              + " them with the same event ids")));
                }
                return;
              }
              LOG.debug("batch {} not answered by the silent writer in time: writing it here", id);
              writeHere(late, late.ws());
            });
    Forward fw = new Forward(id, events, here, answer, caller, ws, timer);
    forwards.put(id, fw);
    try {
      for (int at = 0; at < batch.length(); at += pieceBytes) {
        int end = Math.min(batch.length(), at + pieceBytes);
        Buffer piece = batch.slice(at, end);
        boolean last = end == batch.length();
        ws.writeFrame(
            at == 0
                ? WebSocketFrame.binaryFrame(piece, last)
                : WebSocketFrame.continuationFrame(piece, last));
      }
    } catch (IllegalStateException closedMeanwhile) {
      writeHere(fw, ws);
    }
  }

  /**
   * Whether {@code ws} is open and can take more now. Vert.x throws rather than answer for a
   * connection closed a moment ago (before its close handler ran): that is no room.
   */
  private static boolean hasRoom(io.vertx.core.http.WebSocketBase ws) {
    try {
      return !ws.isClosed() && !ws.writeQueueFull();
    } catch (IllegalStateException closed) {
      return false;
    }
  }

  private static void ping(io.vertx.core.http.WebSocketBase ws) {
    try {
      if (!ws.isClosed()) {
        ws.writePing(PING);
      }
    } catch (IllegalStateException closed) {
      // closed a moment ago: its close handler follows
    }
  }

  /** Writes a binary message; false when the connection was closed (and nothing was written). */
  private static boolean write(io.vertx.core.http.WebSocketBase ws, Buffer message) {
    try {
      if (ws.isClosed()) {
        return false;
      }
      ws.writeBinaryMessage(message);
      return true;
    } catch (IllegalStateException closed) {
      return false;
    }
  }

  /** Feed context: whether a batch sent on {@code ws} waits for its answer. */
  private boolean waitingOn(WebSocket ws) {
    for (Forward fw : forwards.values()) {
      if (fw.ws() == ws) {
        return true;
      }
    }
    return false;
  }

  /** Feed context: the writer's answer to a batch. */
  private void onAnswer(WebSocket ws, Buffer message) {
    ForwardedBatches.Answer a;
    try {
      a = ForwardedBatches.readAnswer(message);
    } catch (IllegalArgumentException e) {
      malformed.increment();
      LOG.warn("an answer from the writer was refused: {}", e.getMessage());
      return; // its batch is written here when its time is up
    }
    Forward fw = forwards.get(a.id());
    if (fw == null || fw.ws() != ws) {
      return; // answered too late: already written here
    }
    switch (a.outcome()) {
      case COMMITTED -> {
        List<AppendResult> results;
        try {
          results = a.results(fw.events());
        } catch (IllegalStateException e) {
          malformed.increment();
          writeHere(fw, ws);
          return;
        }
        if (take(fw)) {
          forwarded.increment();
          fw.caller().runOnContext(v -> fw.answer().complete(results));
        }
      }
      case OVERLOADED -> fail(fw, new IngestOverloadedException(a.message()));
      case TIMED_OUT -> fail(fw, new IngestTimeoutException(a.message()));
      case FAILED -> writeHere(fw, ws);
    }
  }

  private void fail(Forward fw, RuntimeException e) {
    if (take(fw)) {
      forwarded.increment();
      fw.caller().runOnContext(v -> fw.answer().fail(e));
    }
  }

  /** Removes a batch from those waiting for an answer; false when something else took it first. */
  private boolean take(Forward fw) {
    if (!forwards.remove(fw.id(), fw)) {
      return false;
    }
    vertx.cancelTimer(fw.timer());
    return true;
  }

  /**
   * The writer did not take the batch: written here, on the caller's context, once (sent on {@code
   * ws}, or never sent when null).
   */
  private void writeHere(Forward fw, WebSocket ws) {
    if (fw.ws() != ws) {
      return;
    }
    if (ws != null && !take(fw)) {
      return; // answered, or written here already
    }
    writtenHere.increment();
    fw.caller().runOnContext(v -> fw.here().apply(fw.events()).onComplete(fw.answer()));
  }

  /**
   * Feed context: hands a commit frame to the engine, in the order frames came. The socket is read
   * on meanwhile, so the writer's answers and pongs are heard while the engine is busy; only past
   * {@link #FRAMES_WAITING_BYTES} handed over and not taken does it stop reading (the rest waits in
   * the socket, and past the writer's queue limit it sends notices instead). Its silence is not the
   * writer's: no silence is counted while it does not read, and a silence's time starts again when
   * it reads on.
   */
  private void handOver(WebSocket ws, Buffer frame) {
    long bytes = frame.length();
    framesWaiting += bytes;
    if (framesWaiting > FRAMES_WAITING_BYTES && notRead != ws) {
      notRead = ws; // one before it was closed: it is not read again
      ws.pause();
    }
    Context own = context;
    onFrame(frame)
        .onComplete(
            done ->
                own.runOnContext(
                    v -> {
                      framesWaiting -= bytes;
                      WebSocket paused = notRead;
                      if (paused != null && framesWaiting <= FRAMES_WAITING_BYTES / 2) {
                        notRead = null;
                        if (paused == connection) {
                          heardAt = System.nanoTime();
                        }
                        resume(paused);
                      }
                    }));
  }

  /** Feed context: whether the writer followed has said nothing for {@link #SILENCE_MS}. */
  private boolean writerSilent() {
    return System.nanoTime() - heardAt > SILENCE_MS * 1_000_000;
  }

  /**
   * Feed context: whether this node does not read {@code ws} now, its engine behind with the frames
   * (then the writer's silence is not the writer's).
   */
  private boolean notReading(WebSocket ws) {
    return ws != null && notRead == ws;
  }

  /**
   * Feed context: whether this node's own tick is a silence late (its feed did not run: a long
   * collection, no CPU), so that what the writer sent may still be unread.
   */
  private boolean ownStall() {
    return lastTick != 0 && System.nanoTime() - lastTick > SILENCE_MS * 1_000_000;
  }

  private static void resume(WebSocket ws) {
    try {
      ws.resume();
    } catch (IllegalStateException closed) {
      // closed meanwhile: nothing more to read from it
    }
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
    Context own = context;
    gone.forEach(
        f -> {
          if (own == null) {
            f.ws.close((short) 1001, "stopping");
            return;
          }
          // on the feed's context, as answers are: a follower with batches in flight is closed
          // once they are answered (the committer drains before it stops), else their answers
          // would be lost and that node would write them again
          own.runOnContext(
              v -> {
                f.dropped = true;
                if (f.batchesInFlight.get() == 0) {
                  f.ws.close((short) 1001, "stopping");
                }
              });
        });
    if (context == null) {
      return Future.succeededFuture();
    }
    return Future.<Void>future(
            p ->
                context.runOnContext(
                    v -> {
                      closed = true;
                      vertx.cancelTimer(timer);
                      // whatever the writer still owes an answer: written here, before the
                      // committer stops
                      forwards.values().forEach(fw -> writeHere(fw, fw.ws()));
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
