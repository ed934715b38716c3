package io.orderpush.perf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.orderpush.drill.IngestedAt;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import java.io.IOException;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.HdrHistogram.Recorder;

/**
 * One app's consumer group: {@code n} WebSocket connections to {@code /v1/stream}, all on one event
 * loop (so the per-merchant checks need no locks). It applies every {@code events} message the
 * protocol's way (skip what is at or below the last applied seq, ack the last seq of the message
 * right after), and checks, per merchant:
 *
 * <ul>
 *   <li>a connection receives events of a merchant only while that merchant is assigned to it, as
 *       told by the messages on that same connection (assigned/unassigned on two sockets can arrive
 *       in either order, so ownership is tracked per connection);
 *   <li>within one assignment, each seq follows the previous one exactly;
 *   <li>nothing is skipped: every seq arriving is at most last applied + 1 (lower seqs are
 *       redeliveries the protocol allows after a channel moves, counted but not errors).
 * </ul>
 *
 * Anything else is an error, printed (the first 20) and counted. The latency recorded per newly
 * applied event is arrival (when the whole message was received) minus its {@code ingestedAt}.
 */
final class StreamConsumer {

  private static final JsonFactory JSON = new JsonFactory();
  private static final int MAX_PRINTED_ERRORS = 20;

  private static final class Merchant {
    long lastApplied;
  }

  private final class Conn {
    final int index;
    WebSocket ws;

    /** Merchants assigned to this connection, with the next seq due on it (-1: none yet). */
    final Map<String, Long> expectNext = new HashMap<>();

    Conn(int index) {
      this.index = index;
    }
  }

  private final Context ctx;
  private final WebSocketClient client;
  private final List<WebSocketConnectOptions> connects = new ArrayList<>();
  private final Map<String, Merchant> merchants = new HashMap<>();
  private final List<Conn> conns = new ArrayList<>();

  /** Commit-to-arrival latency in microseconds of newly applied events, while measuring. */
  final Recorder latencyMicros = new Recorder(3);

  volatile boolean measuring;
  volatile long applied;
  volatile long redelivered;
  volatile long messages;
  volatile long errors;
  volatile long firstEventNanos;

  /** Server error messages not_assigned: expected for acks in flight while a channel moves. */
  volatile long refusedAcks;

  private volatile int assignedTotal;
  private boolean closing;
  private long target = Long.MAX_VALUE;
  private CompletableFuture<Long> reached;
  private final IngestedAt ingestedAt = new IngestedAt();
  private long[] seqs = new long[2048];
  private String[] ats = new String[2048];

  StreamConsumer(Vertx vertx, URI base, String appToken, Collection<String> merchantIds) {
    this(vertx, List.of(base), appToken, merchantIds);
  }

  /**
   * Connection {@code i} goes to {@code bases.get(i % bases.size())}: a group spread over the nodes
   * of a cluster, round robin.
   */
  StreamConsumer(Vertx vertx, List<URI> bases, String appToken, Collection<String> merchantIds) {
    this.ctx = vertx.getOrCreateContext();
    this.client =
        vertx.createWebSocketClient(
            new WebSocketClientOptions()
                .setMaxFrameSize(16 * 1024 * 1024)
                .setMaxMessageSize(64 * 1024 * 1024)
                .setMaxConnections(64));
    for (URI base : bases) {
      connects.add(
          new WebSocketConnectOptions()
              .setHost(base.getHost())
              .setPort(base.getPort())
              .setURI("/v1/stream")
              .putHeader("Authorization", "Bearer " + appToken));
    }
    merchantIds.forEach(m -> merchants.put(m, new Merchant()));
  }

  /** Opens {@code n} connections one after the other. */
  Future<Void> connect(int n) {
    Promise<Void> done = Promise.promise();
    ctx.runOnContext(v -> connectFrom(0, n, done));
    return done.future();
  }

  private void connectFrom(int i, int n, Promise<Void> done) {
    if (i == n) {
      done.complete();
      return;
    }
    Conn c = new Conn(i);
    conns.add(c);
    client
        .connect(connects.get(i % connects.size()))
        .onComplete(
            ar -> {
              if (ar.failed()) {
                done.fail(ar.cause());
                return;
              }
              c.ws = ar.result();
              c.ws.textMessageHandler(text -> onText(c, text));
              c.ws.closeHandler(
                  x -> {
                    if (!closing) {
                      error(
                          "connection "
                              + c.index
                              + " closed by the server: "
                              + c.ws.closeStatusCode()
                              + " "
                              + c.ws.closeReason());
                    }
                  });
              connectFrom(i + 1, n, done);
            });
  }

  int assignedTotal() {
    return assignedTotal;
  }

  /** Completes with System.nanoTime() when {@code total} events have been applied. */
  CompletableFuture<Long> whenApplied(long total) {
    CompletableFuture<Long> f = new CompletableFuture<>();
    ctx.runOnContext(
        v -> {
          target = total;
          reached = f;
          if (applied >= total) {
            f.complete(System.nanoTime());
          }
        });
    return f;
  }

  /** Last applied seq per merchant (a copy, taken on the consumer's event loop). */
  CompletableFuture<Map<String, Long>> lastApplied() {
    CompletableFuture<Map<String, Long>> f = new CompletableFuture<>();
    ctx.runOnContext(
        v -> {
          Map<String, Long> out = new HashMap<>();
          merchants.forEach((id, m) -> out.put(id, m.lastApplied));
          f.complete(out);
        });
    return f;
  }

  Future<Void> close() {
    Promise<Void> done = Promise.promise();
    ctx.runOnContext(
        v -> {
          closing = true;
          conns.forEach(
              c -> {
                if (c.ws != null) {
                  c.ws.close((short) 1000, "bench done");
                }
              });
          done.complete();
        });
    return done.future();
  }

  private void error(String what) {
    long n = ++errors;
    if (n <= MAX_PRINTED_ERRORS) {
      System.err.println("CONSUMER ERROR: " + what);
    } else if (n == MAX_PRINTED_ERRORS + 1) {
      System.err.println("CONSUMER ERROR: (more errors, not printed)");
    }
  }

  private void onText(Conn c, String text) {
    long arrivalMicros = micros(Instant.now());
    messages++;
    String type = null;
    String merchantId = null;
    List<String> list = null;
    String message = null;
    int n = 0;
    try (JsonParser p = JSON.createParser(text)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("not a JSON object");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String f = p.currentName();
        p.nextToken();
        switch (f) {
          case "type" -> type = p.getText();
          case "merchantId" -> merchantId = p.getText();
          case "message", "code" ->
              message = message == null ? p.getText() : message + ": " + p.getText();
          case "merchants" -> {
            list = new ArrayList<>();
            while (p.nextToken() == JsonToken.VALUE_STRING) {
              list.add(p.getText());
            }
          }
          case "events" -> {
            while (p.nextToken() == JsonToken.START_OBJECT) {
              if (n == seqs.length) {
                seqs = java.util.Arrays.copyOf(seqs, n * 2);
                ats = java.util.Arrays.copyOf(ats, n * 2);
              }
              seqs[n] = -1;
              ats[n] = null;
              while (p.nextToken() == JsonToken.FIELD_NAME) {
                String g = p.currentName();
                p.nextToken();
                if (g.equals("seq")) {
                  seqs[n] = p.getLongValue();
                } else if (g.equals("ingestedAt")) {
                  ats[n] = p.getText();
                } else {
                  p.skipChildren();
                }
              }
              n++;
            }
          }
          default -> p.skipChildren();
        }
      }
    } catch (IOException | RuntimeException e) {
      error(
          "connection "
              + c.index
              + ": unparsable message ("
              + e
              + "): "
              + text.substring(0, Math.min(200, text.length())));
      return;
    }
    switch (type == null ? "" : type) {
      case "hello" -> {}
      case "assigned" -> list.forEach(m -> assigned(c, m));
      case "unassigned" -> list.forEach(m -> unassigned(c, m));
      case "events" -> events(c, merchantId, n, arrivalMicros);
      case "error" -> {
        if (message != null && message.startsWith("not_assigned")) {
          refusedAcks++;
        } else {
          error("connection " + c.index + ": server error " + message);
        }
      }
      default -> error("connection " + c.index + ": unknown message type " + type);
    }
  }

  private void assigned(Conn c, String id) {
    if (!merchants.containsKey(id)) {
      error("connection " + c.index + " assigned unknown merchant " + id);
    } else if (c.expectNext.put(id, -1L) != null) {
      error("connection " + c.index + " assigned merchant " + id + " it already holds");
    } else {
      assignedTotal++;
    }
  }

  private void unassigned(Conn c, String id) {
    if (c.expectNext.remove(id) != null) {
      assignedTotal--;
    }
  }

  private void events(Conn c, String id, int n, long arrivalMicros) {
    Merchant m = merchants.get(id);
    Long due = c.expectNext.get(id);
    if (m == null || due == null || n == 0) {
      error(
          "connection "
              + c.index
              + ": "
              + n
              + " events of merchant "
              + id
              + (m == null ? " (unknown)" : n == 0 ? " (empty message)" : " not assigned to it"));
      return;
    }
    if (firstEventNanos == 0) {
      firstEventNanos = System.nanoTime();
    }
    long expect = due;
    long newly = 0;
    for (int i = 0; i < n; i++) {
      long seq = seqs[i];
      if (expect >= 0 && seq != expect) {
        error(
            "merchant "
                + id
                + ": seq "
                + seq
                + " arrived where "
                + expect
                + " was due (connection "
                + c.index
                + ")");
      } else if (seq > m.lastApplied + 1) {
        error(
            "merchant "
                + id
                + ": seq "
                + seq
                + " leaves a gap after "
                + m.lastApplied
                + " (connection "
                + c.index
                + ")");
      }
      expect = seq + 1;
      if (seq <= m.lastApplied) {
        redelivered++;
        continue;
      }
      m.lastApplied = seq;
      newly++;
      if (measuring && ats[i] != null) {
        latencyMicros.recordValue(Math.max(0, arrivalMicros - ingestedAt.millis(ats[i]) * 1000));
      }
    }
    c.expectNext.put(id, expect);
    c.ws.writeTextMessage(
        "{\"type\":\"ack\",\"merchantId\":\"" + id + "\",\"seq\":" + seqs[n - 1] + "}");
    applied += newly;
    if (applied >= target && reached != null) {
      reached.complete(System.nanoTime());
      reached = null;
    }
  }

  static long micros(Instant t) {
    return IngestedAt.micros(t);
  }
}
