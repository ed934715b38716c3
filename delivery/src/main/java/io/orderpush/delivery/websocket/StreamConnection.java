package io.orderpush.delivery.websocket;

import io.orderpush.delivery.audit.DeliveryAudit;
import io.orderpush.delivery.channel.AckOutcome;
import io.orderpush.delivery.channel.Channel;
import io.orderpush.delivery.channel.DeliveryEngine;
import io.orderpush.delivery.channel.Subscriber;
import io.orderpush.delivery.logging.LogContext;
import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One consumer connection of an app's group. Everything but the socket callbacks, which hop over,
 * runs on the delivery engine's context.
 */
final class StreamConnection implements Subscriber {

  static final short POLICY_VIOLATION = 1008;
  static final short GOING_AWAY = 1001;
  static final short MESSAGE_TOO_BIG = 1009;

  private static final Logger LOG = LoggerFactory.getLogger(StreamConnection.class);
  final String id = UUID.randomUUID().toString();
  final Map<String, Channel> channels = new HashMap<>();

  /** {@code assigned} messages sent (engine context): the last one's number. */
  private long assignments;

  /**
   * The number of the last {@code assigned} message that named each merchant (engine context); kept
   * for merchants since unassigned, which a later assignment overwrites.
   */
  private final Map<String, Long> assignedIn = new HashMap<>();

  private final ServerWebSocket ws;
  private final UUID appId;
  private final StreamService service;
  private final DeliveryEngine engine;
  private final StreamSettings settings;
  private final StreamMetrics metrics;
  private volatile long lastHeard = System.currentTimeMillis();

  /** Client messages received and not yet handled; the socket is not read past the limit. */
  private final AtomicInteger messagesInFlight = new AtomicInteger();

  private volatile boolean readPaused;

  /** When the upgrade's app lookup started ({@link System#nanoTime}). */
  long checkedAtNanos = System.nanoTime();

  /** SHA-256 of the app token the upgrade presented; null when not known (every token is). */
  byte[] tokenHash;

  /** Closes the connection when its token's rotation grace period ends (engine context). */
  private long tokenTimer = -1;

  /** When the token this connection was opened with stops being valid (engine context). */
  private Instant tokenDeadline = Instant.MAX;

  /** The rate window of client messages; touched on the socket's context only. */
  private long rateWindowStart = System.nanoTime();

  private int rateCount;
  private boolean rateExceeded;

  /**
   * {@code events} messages sent (engine context), each of which the client may ack once without it
   * counting against {@code stream.max-client-messages-per-second}: a client that acks every
   * message as the protocol asks is never closed for it, however many the gateway sends in a second
   * or however late the client reads them (a backlog that sat in a full socket).
   */
  private final java.util.concurrent.atomic.AtomicLong eventsMessagesSent =
      new java.util.concurrent.atomic.AtomicLong();

  /** Client messages taken as acks of {@link #eventsMessagesSent} (socket context). */
  private long credited;

  /**
   * Acks owed that a client may hold at most: past it the oldest are forgotten, so a client that
   * acks only some messages (acks are cumulative) cannot save up a flood. Above what a full socket
   * holds: 4 MiB of write queue and the kernel's buffers, of small messages.
   */
  static final long MAX_ACK_CREDIT = 100_000;

  private Context socketContext;
  private long timer = -1;
  private boolean closed;
  private boolean detached;

  StreamConnection(
      ServerWebSocket ws,
      UUID appId,
      StreamService service,
      DeliveryEngine engine,
      StreamSettings settings,
      StreamMetrics metrics) {
    this.ws = ws;
    this.appId = appId;
    this.service = service;
    this.engine = engine;
    this.settings = settings;
    this.metrics = metrics;
  }

  /**
   * Wires the socket (on its own context, right after the upgrade) and joins the group; the token
   * it was opened with is valid until {@code tokenValidUntil} ({@link #tokenValidUntil}).
   */
  void open(Instant tokenValidUntil) {
    ws.setWriteQueueMaxSize(settings.writeQueueBytes());
    Context current = Vertx.currentContext();
    socketContext = current != null ? current : engine.context();
    ws.textMessageHandler(
        text -> {
          if (overRate()) {
            return;
          }
          lastHeard = System.currentTimeMillis();
          if (messagesInFlight.incrementAndGet() >= settings.maxClientMessagesInFlight()
              && !readPaused) {
            // A client that floods waits on TCP instead of filling the engine's queue.
            readPaused = true;
            ws.pause();
            metrics.readsPaused.increment();
          }
          engine.context().runOnContext(v -> onMessage(text).onComplete(x -> handled()));
        });
    ws.binaryMessageHandler(
        b -> {
          if (!overRate()) {
            engine
                .context()
                .runOnContext(v -> protocolError("bad_message", "messages are JSON text frames"));
          }
        });
    ws.pongHandler(b -> lastHeard = System.currentTimeMillis());
    ws.exceptionHandler(err -> engine.context().runOnContext(x -> onSocketError(err)));
    ws.closeHandler(
        v -> {
          socketGone = true;
          engine.context().runOnContext(x -> onClosed());
        });
    engine
        .context()
        .runOnContext(
            v -> {
              if (closed) {
                return;
              }
              send(StreamMessages.hello(id, appId.toString(), settings.window()));
              if (engine.probe().watches(appId)) {
                engine.probe().connectionOpened(appId);
              }
              long every = settings.pingInterval().toMillis();
              timer = engine.vertx().setPeriodic(every, every, t -> tick());
              tokenValidUntil(tokenValidUntil);
              if (!closed) {
                service.attach(this);
              }
            });
  }

  private void tick() {
    long now = System.currentTimeMillis();
    if (now - lastHeard > settings.idleTimeout().toMillis()) {
      metrics.idleClosed.increment();
      protocolError(
          "idle_timeout", "nothing received for " + settings.idleTimeout().toMillis() + " ms");
      return;
    }
    long ackDeadline = now - settings.ackTimeout().toMillis();
    for (Channel c : channels.values()) {
      if (c.unackedSince() != 0 && c.unackedSince() < ackDeadline) {
        metrics.ackTimeouts.increment();
        if (engine.probe().watches(appId)) {
          engine.probe().ackTimedOut(appId);
        }
        protocolError(
            "ack_timeout",
            "events of "
                + c.merchantId()
                + " unacked for more than "
                + settings.ackTimeout().toMillis()
                + " ms; they will be delivered again");
        return;
      }
    }
    ws.writePing(Buffer.buffer());
  }

  /**
   * Counts a client message in the current one-second window; past the limit the connection is
   * closed with {@code rate_limited}, and nothing more it sends is handled.
   */
  private boolean overRate() {
    if (rateExceeded) {
      return true;
    }
    long sent = eventsMessagesSent.get();
    if (credited < sent) {
      credited = Math.max(credited, sent - MAX_ACK_CREDIT) + 1;
      return false; // an ack of one of the messages sent
    }
    long now = System.nanoTime();
    if (now - rateWindowStart >= 1_000_000_000L) {
      rateWindowStart = now;
      rateCount = 0;
    }
    if (++rateCount <= settings.maxClientMessagesPerSecond()) {
      return false;
    }
    rateExceeded = true;
    metrics.rateLimited.increment();
    engine
        .context()
        .runOnContext(
            v ->
                protocolError(
                    "rate_limited",
                    "more than "
                        + settings.maxClientMessagesPerSecond()
                        + " messages within one second besides one ack per events message"));
    return true;
  }

  /** A client message was handled: read the socket again once half the limit is free. */
  private void handled() {
    if (messagesInFlight.decrementAndGet() <= settings.maxClientMessagesInFlight() / 2
        && readPaused) {
      socketContext.runOnContext(
          v -> {
            if (readPaused && messagesInFlight.get() <= settings.maxClientMessagesInFlight() / 2) {
              readPaused = false;
              ws.resume();
            }
          });
    }
  }

  private Future<Void> onMessage(String text) {
    if (closed) {
      return Future.succeededFuture();
    }
    JsonObject msg;
    try {
      msg = new JsonObject(text);
    } catch (DecodeException e) {
      protocolError("bad_message", "not a JSON object");
      return Future.succeededFuture();
    }
    if (!"ack".equals(msg.getValue("type"))) {
      protocolError(
          "bad_message", "unknown message type; the client sends only {\"type\":\"ack\",...}");
      return Future.succeededFuture();
    }
    if (!(msg.getValue("merchantId") instanceof String merchantId)
        || !(msg.getValue("seq") instanceof Number n)
        || n.longValue() < 0
        || n.doubleValue() != n.longValue()) {
      protocolError(
          "bad_message", "an ack needs \"merchantId\" (string) and \"seq\" (non-negative integer)");
      return Future.succeededFuture();
    }
    long seq = n.longValue();
    Object assignment = msg.getValue("assignment");
    if (assignment != null
        && (!(assignment instanceof Number a)
            || a.longValue() < 1
            || a.doubleValue() != a.longValue()
            || a.longValue() > assignments)) {
      protocolError(
          "bad_message",
          "\"assignment\" must be the number of an assigned message this connection was sent");
      return Future.succeededFuture();
    }
    Channel c = channels.get(merchantId);
    if (c == null) {
      send(StreamMessages.notAssigned(merchantId));
      return Future.succeededFuture();
    }
    if (assignment != null
        && ((Number) assignment).longValue() < assignedIn.getOrDefault(merchantId, 0L)) {
      // Sent before the client read the channel's latest assigned (after a rewind, say): it is of
      // a position the channel has left. Ignored; the events from the new position follow.
      metrics.staleAcks.increment();
      return Future.succeededFuture();
    }
    return engine
        .ack(c, this, seq)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                // Redis did not answer: the cursor did not move, the events will be delivered
                // again.
                send(
                    StreamMessages.error(
                        "ack_failed",
                        "the ack of "
                            + merchantId
                            + " up to "
                            + seq
                            + " could not be stored; the connection closes and unacked events will be delivered again"));
                close(GOING_AWAY, "ack not stored");
              } else if (ar.result() == AckOutcome.BEYOND_DELIVERED) {
                protocolError(
                    "ack_beyond_delivered",
                    "ack of "
                        + merchantId
                        + " up to "
                        + seq
                        + " is beyond what this connection was sent ("
                        + c.sent()
                        + ")");
              } else if (ar.result() == AckOutcome.NOT_OWNER) {
                send(StreamMessages.notAssigned(merchantId));
              }
              // STALE (a position from before a rewind) and RESTARTED need no answer: an assigned
              // message and the events from the new position follow.
            })
        .mapEmpty();
  }

  /**
   * A fragmented message grew past the server's limit (Vert.x reports it only in words): said with
   * {@code message_too_large} and 1009. Any other socket error closes with 1001.
   */
  private void onSocketError(Throwable err) {
    if (err instanceof IllegalStateException
        && String.valueOf(err.getMessage()).contains("overflow max message size")) {
      send(StreamMessages.error("message_too_large", err.getMessage()));
      close(MESSAGE_TOO_BIG, "message_too_large");
    } else {
      close(GOING_AWAY, "connection error");
    }
  }

  private void protocolError(String code, String message) {
    try (var log = LogContext.with("connection", id).put("app", appId)) {
      LOG.info("closing WebSocket connection: {}: {}", code, message);
    }
    send(StreamMessages.error(code, message));
    close(POLICY_VIOLATION, code);
  }

  void close(short status, String reason) {
    if (!closed) {
      closed = true;
      ws.close(status, reason);
      onClosed();
      // The close frame waits behind what is queued; a client that stopped reading never takes it,
      // and the socket would stay open for good with its buffers, no longer counted anywhere.
      long grace = settings.pingInterval().toMillis();
      engine.vertx().setTimer(grace, t -> closeSocketIfStillOpen());
    }
  }

  /** Set when the socket closed (its close handler ran); any thread. */
  private volatile boolean socketGone;

  /**
   * Closes the socket beneath Vert.x's close-after-flush, dropping what is queued ({@link #abort},
   * when the upgrade gave one).
   */
  private void closeSocketIfStillOpen() {
    if (!socketGone && abort != null) {
      metrics.forcedClosed.increment();
      abort.run();
    }
  }

  /** Closes the socket at once, whatever is queued; null if the upgrade gave none. */
  Runnable abort;

  private void onClosed() {
    boolean first = !detached;
    closed = true;
    detached = true;
    if (timer >= 0) {
      engine.vertx().cancelTimer(timer);
      timer = -1;
    }
    if (tokenTimer >= 0) {
      engine.vertx().cancelTimer(tokenTimer);
      tokenTimer = -1;
    }
    if (first) {
      service.detach(this);
    }
  }

  UUID appId() {
    return appId;
  }

  /**
   * The token this connection was opened with is valid until {@code until} (a rotation made it the
   * previous one, or made another the current one again): the connection is closed then with {@code
   * token_expired}, at once if that is past. {@link Instant#MAX}: for good. Engine context.
   */
  void tokenValidUntil(Instant until) {
    if (closed) {
      return;
    }
    // a token's validity only ever shrinks: an answer read earlier must not extend it
    if (!until.isBefore(tokenDeadline)) {
      return;
    }
    tokenDeadline = until;
    if (tokenTimer >= 0) {
      engine.vertx().cancelTimer(tokenTimer);
      tokenTimer = -1;
    }
    if (until.equals(Instant.MAX)) {
      return;
    }
    long delay =
        until.isAfter(Instant.now()) ? until.toEpochMilli() - System.currentTimeMillis() : 0;
    if (delay <= 0) {
      tokenExpired();
    } else {
      tokenTimer =
          engine
              .vertx()
              .setTimer(
                  delay,
                  t -> {
                    tokenTimer = -1;
                    tokenExpired();
                  });
    }
  }

  private void tokenExpired() {
    metrics.tokenExpired.increment();
    protocolError(
        "token_expired",
        "the app token this connection was opened with is no longer valid (rotated); connect with"
            + " the current one");
  }

  boolean isClosed() {
    return closed;
  }

  void send(String text) {
    if (!closed) {
      ws.writeTextMessage(text);
    }
  }

  /**
   * Largest {@code events} message sent as one frame from its UTF-8 bytes; a larger one goes as a
   * text message, which Vert.x splits into frames of the server's frame size as before (65,536
   * bytes by default, {@code stream.max-client-message-bytes}).
   */
  static final int SINGLE_FRAME_BYTES = 65_536;

  /**
   * Sends an {@code events} message already encoded as UTF-8 ({@link StreamMessages#events}) as one
   * text frame. Vert.x 5 takes a text message only as a {@code String}, so the frame is made with
   * its frame class, which takes the bytes as they are.
   */
  private void send(io.netty.buffer.ByteBuf message) {
    if (closed) {
      message.release();
      return;
    }
    int bytes = message.readableBytes();
    unwritten.addAndGet(bytes);
    Future<Void> written;
    if (bytes <= SINGLE_FRAME_BYTES) {
      written =
          ws.writeFrame(
              new io.vertx.core.http.impl.ws.WebSocketFrameImpl(
                  io.vertx.core.http.WebSocketFrameType.TEXT, message, true));
    } else {
      String text = message.toString(java.nio.charset.StandardCharsets.UTF_8);
      message.release();
      written = ws.writeTextMessage(text);
    }
    written.onComplete(ar -> written(bytes));
  }

  /**
   * Bytes of {@code events} messages handed to the socket and not yet written to the kernel, or
   * dropped with a closed socket (any thread). This, against {@code stream.write-queue-bytes}, is
   * what pauses a connection: Vert.x's own {@code writeQueueFull} also turns true as soon as 16
   * messages wait for the socket's event loop, whatever their size, so a connection on another
   * event loop than the engine's was paused by every burst of a commit (thousands of times a minute
   * at 10,000 events/s) and its channels waited for the drain and two thread hops.
   */
  private final java.util.concurrent.atomic.AtomicLong unwritten =
      new java.util.concurrent.atomic.AtomicLong();

  /**
   * The connection is paused: set by the engine when it found it full, cleared by the write that
   * brings {@link #unwritten} to half the limit, which drives the engine again.
   */
  private volatile boolean waitingForRoom;

  /**
   * A write of {@code bytes} ended (socket context): a paused connection goes on once half is free.
   * If the engine cleared the flag itself meanwhile ({@link #queueFull}), the extra drive finds
   * nothing to do.
   */
  private void written(int bytes) {
    long left = unwritten.addAndGet(-bytes);
    if (waitingForRoom && left <= settings.writeQueueBytes() / 2) {
      waitingForRoom = false;
      engine.context().runOnContext(v -> engine.drive(this));
    }
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public int window() {
    return settings.window();
  }

  @Override
  public int maxBatch() {
    return settings.maxBatchEvents();
  }

  @Override
  public int maxParallelReads() {
    return settings.maxParallelReads();
  }

  @Override
  public boolean writable() {
    return !closed && !queueFull();
  }

  /**
   * True while the connection is paused: from when {@code stream.write-queue-bytes} of events are
   * not yet written ({@link #unwritten}) until half of that is, as Netty's own water marks do (a
   * connection that took a message whenever a little room freed would trickle out small writes to a
   * slow reader); or when the socket closed before our close handler ran. Each pause is counted
   * once. Engine context.
   */
  private boolean queueFull() {
    if (ws.isClosed()) {
      return true;
    }
    long limit = settings.writeQueueBytes();
    if (waitingForRoom) {
      return true; // the write that brings it to half clears the flag and drives the engine
    }
    if (unwritten.get() < limit) {
      return false;
    }
    waitingForRoom = true;
    metrics.paused.increment();
    // the writes that ended before the flag was set did not see it: if they freed half, go on
    if (unwritten.get() <= limit / 2) {
      waitingForRoom = false;
      return false;
    }
    return true;
  }

  @Override
  public void claimed(Channel channel, long cursor) {
    // the assigned message went out when the group gave us the channel
  }

  @Override
  public void deliver(Channel channel, List<LoggedEvent> events) {
    for (io.netty.buffer.ByteBuf message :
        StreamMessages.events(channel.merchantId(), events, settings.maxFrameBytes())) {
      eventsMessagesSent.incrementAndGet();
      send(message);
    }
    engine.audit().websocket(channel, id, events, DeliveryAudit.masked(channel));
    queueFull(); // pauses (and counts it) now if this batch filled the queue
  }

  /** Delivery of the channel starts over after its cursor: said with a fresh {@code assigned}. */
  @Override
  public void restarted(Channel channel) {
    if (channels.containsKey(channel.merchantId())) {
      assigned(List.of(channel.merchantId()));
    }
  }

  /**
   * Tells the client these channels are (again) its own, numbering each message: an ack that names
   * an older number was sent before the client read the message, about a position from before (a
   * rewind), and is ignored. Engine context only.
   */
  void assigned(List<String> merchants) {
    for (List<String> chunk : StreamMessages.chunks(merchants)) {
      long n = ++assignments;
      chunk.forEach(m -> assignedIn.put(m, n));
      send(StreamMessages.assigned(chunk, n));
    }
  }
}
