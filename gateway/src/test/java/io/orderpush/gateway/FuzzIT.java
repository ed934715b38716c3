package io.orderpush.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.testing.RawHttp;
import io.orderpush.gateway.testing.RawHttp.Response;
import io.orderpush.gateway.testing.RawHttp.WebSocketConnection;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Seeded hostile inputs on every surface: ingest bodies, operator bodies, paths and query
 * parameters, app calls and WebSocket frames. No answer may be a 5xx, no connection may stall, and
 * the gateway is ready and serving afterwards. Replay a run with {@code -Dtest.seed=N} (printed);
 * {@code -Dfuzz.cases=N} sets the number of HTTP cases (WebSocket cases are a tenth of it).
 */
class FuzzIT {

  static final int CASES = Integer.getInteger("fuzz.cases", 5000);
  static final int THREADS = 8;
  static final int TIMEOUT_MS = 15_000;
  static final TestRandom RANDOM = TestRandom.forTest("FuzzIT");

  static TestGateway gw;
  static String appId;
  static String appToken;
  static final String MERCHANT = TestServices.uniqueMerchant("fuzz");
  static final Set<String> created = ConcurrentHashMap.newKeySet();

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_AUTH_MAX_FAILURES", "1000000",
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1"));
    JsonObject app =
        new JsonObject(
            gw.send(
                    "POST",
                    "/v1/apps",
                    TestGateway.ADMIN_TOKEN,
                    "{\"name\":\"fuzz\",\"delivery\":{\"mode\":\"websocket\"}}")
                .body());
    appId = app.getString("appId");
    appToken = app.getString("token");
    created.add(appId);
    gw.send("PUT", "/v1/merchants/" + MERCHANT + "/grants/" + appId, TestGateway.ADMIN_TOKEN, "{}");
  }

  @AfterAll
  static void stop() {
    for (String id : created) {
      gw.gateway
          .pool()
          .preparedQuery("DELETE FROM apps WHERE app_id = $1")
          .execute(Tuple.of(UUID.fromString(id)))
          .toCompletionStage()
          .toCompletableFuture()
          .join();
    }
    gw.close();
  }

  /** One generated request, described well enough to reproduce by hand. */
  record Case(int n, String method, byte[] target, Map<String, String> headers, byte[] body) {
    @Override
    public String toString() {
      String t = new String(target, StandardCharsets.ISO_8859_1);
      String b = body == null ? "" : new String(body, StandardCharsets.UTF_8);
      return "#"
          + n
          + " "
          + method
          + " "
          + (t.length() > 200 ? t.substring(0, 200) + "..." : t)
          + " "
          + headers.keySet()
          + " "
          + (b.length() > 300 ? b.substring(0, 300) + "...(" + b.length() + ")" : b);
    }
  }

  @Test
  void shouldAnswerEveryHostileHttpRequestWithoutA5xxOrAStallAndStayReady() throws Exception {
    List<String> failures = new CopyOnWriteArrayList<>();
    Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    List<Future<?>> running = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int thread = t;
      running.add(
          pool.submit(
              () -> {
                Random r = RANDOM.fork(thread);
                for (int i = thread; i < CASES; i += THREADS) {
                  Case c = new Generator(r).request(i);
                  try {
                    Response resp =
                        RawHttp.request(
                            "127.0.0.1",
                            gw.port,
                            c.method(),
                            c.target(),
                            c.headers(),
                            c.body(),
                            TIMEOUT_MS);
                    statuses.merge(resp.status(), 1, Integer::sum);
                    if (resp.status() >= 500 || resp.status() < 100) {
                      failures.add(resp.status() + " " + resp.body() + " for " + c);
                    }
                    if (resp.status() == 201 && resp.body().contains("\"appId\"")) {
                      created.add(new JsonObject(resp.body()).getString("appId"));
                    }
                  } catch (RawHttp.Stalled e) {
                    failures.add("stalled: " + c);
                  }
                }
              }));
    }
    for (Future<?> f : running) {
      f.get();
    }
    pool.shutdown();
    System.out.println("FuzzIT HTTP statuses: " + statuses);
    assertThat(failures).as(RANDOM + ": %d of %d cases", failures.size(), CASES).isEmpty();
    assertReadyAndServing();
  }

  @Test
  void shouldCloseOrKeepServingEveryHostileWebSocketClientWithoutAStall() throws Exception {
    int cases = Math.max(50, CASES / 10);
    Set<Integer> documented = Set.of(1000, 1001, 1002, 1006, 1007, 1008, 1009);
    List<String> failures = new CopyOnWriteArrayList<>();
    Map<Integer, Integer> outcomes = new ConcurrentHashMap<>();
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    List<Future<?>> running = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int thread = t;
      running.add(
          pool.submit(
              () -> {
                Random r = RANDOM.fork(1000 + thread);
                for (int i = thread; i < cases; i += THREADS) {
                  List<byte[]> frames = new Generator(r).frames();
                  String described = "ws #" + i + " " + describe(frames);
                  try (WebSocketConnection ws =
                      WebSocketConnection.open(
                          "127.0.0.1", gw.port, "/v1/stream", appToken, TIMEOUT_MS)) {
                    if (ws.handshake.status() != 101) {
                      failures.add("handshake " + ws.handshake.status() + " " + described);
                      continue;
                    }
                    int outcome = exchange(ws, frames);
                    outcomes.merge(outcome, 1, Integer::sum);
                    if (outcome != 0 && !documented.contains(outcome)) {
                      failures.add("closed with " + outcome + ": " + described);
                    }
                  } catch (RawHttp.Stalled e) {
                    failures.add("stalled: " + described);
                  } catch (IOException | RuntimeException e) {
                    failures.add(e + ": " + described);
                  }
                }
              }));
    }
    for (Future<?> f : running) {
      f.get();
    }
    pool.shutdown();
    System.out.println("FuzzIT WebSocket outcomes (0 = still open): " + outcomes);
    assertThat(failures).as(RANDOM + ": %d of %d cases", failures.size(), cases).isEmpty();
    assertReadyAndServing();
  }

  /**
   * Sends the frames, then a ping: 0 if its pong comes back (still served), else the close code
   * (1006 if cut without one). Throws {@link RawHttp.Stalled} if neither happens in time.
   */
  static int exchange(WebSocketConnection ws, List<byte[]> frames) throws IOException {
    try {
      for (byte[] f : frames) {
        ws.socket.getOutputStream().write(f);
      }
      ws.frame(0x89, "probe".getBytes(StandardCharsets.US_ASCII));
    } catch (IOException closedMeanwhile) {
      // the server closed first: read what it said
    }
    try {
      for (var f = ws.read(); f != null; f = ws.read()) {
        if (f.opcode() == 8) {
          return f.closeCode();
        }
        if (f.opcode() == 0xA && f.text().equals("probe")) {
          return 0;
        }
      }
      return 1006;
    } catch (java.net.SocketTimeoutException e) {
      throw new RawHttp.Stalled("no pong and no close");
    } catch (java.net.SocketException reset) {
      return 1006;
    }
  }

  static String describe(List<byte[]> frames) {
    StringBuilder s = new StringBuilder();
    for (byte[] f : frames) {
      s.append(String.format("[%02x len %d] ", f[0] & 0xff, f.length));
    }
    return s.toString();
  }

  static void assertReadyAndServing() throws IOException {
    assertThat(gw.send("GET", "/health/ready", null, null).statusCode()).isEqualTo(200);
    assertThat(
            gw.ingest(Events.batch(List.of(Events.event(MERCHANT, "after-" + UUID.randomUUID()))))
                .statusCode())
        .isEqualTo(200);
    try (WebSocketConnection ws =
        WebSocketConnection.open("127.0.0.1", gw.port, "/v1/stream", appToken, TIMEOUT_MS)) {
      assertThat(ws.handshake.status()).isEqualTo(101);
      assertThat(ws.read().text()).contains("\"hello\"");
    }
    assertThat(Scrape.value(gw, "gateway_http_errors_total{kind=\"internal\"}")).isZero();
  }

  /** Hostile inputs from one seeded stream of choices. */
  static final class Generator {
    final Random r;

    Generator(Random r) {
      this.r = r;
    }

    <T> T pick(List<T> options) {
      return options.get(r.nextInt(options.size()));
    }

    boolean chance(int percent) {
      return r.nextInt(100) < percent;
    }

    static final List<String> NASTY =
        List.of(
            "",
            " ",
            "null",
            "\u0000",
            "\u0007bell",
            "\\ud800",
            "\\udfff\\ud800",
            "\u202etxt.exe",
            "😀😀",
            "张三",
            "../../etc/passwd",
            "%00",
            "%2e%2e%2f",
            "' OR 1=1 --",
            "<script>alert(1)</script>",
            "${jndi:ldap://127.0.0.1/a}",
            "a\nb",
            "\r\n\r\n",
            "-1",
            "0",
            "9223372036854775808",
            "1e999999",
            "NaN",
            "true",
            "whsec_",
            "gwa_",
            "m-1",
            "00000000-0000-0000-0000-000000000000");

    String string() {
      int kind = r.nextInt(10);
      if (kind < 5) {
        return pick(NASTY);
      }
      if (kind < 7) {
        return "x".repeat(pick(List.of(1, 64, 65, 128, 129, 200, 201, 2048, 2049, 70_000)));
      }
      StringBuilder s = new StringBuilder();
      int n = r.nextInt(40);
      for (int i = 0; i < n; i++) {
        s.appendCodePoint(
            pick(
                List.of(
                    r.nextInt(0x20), 0x20 + r.nextInt(0x5f), 0x80 + r.nextInt(0x800), 0x1F600)));
      }
      return s.toString();
    }

    /** A JSON string literal holding {@code s} (escaped, with raw escapes kept if asked). */
    String quoted(String s) {
      if (s.startsWith("\\u")) {
        return "\"" + s + "\""; // raw escape, possibly a lone surrogate
      }
      return io.vertx.core.json.Json.encode(s);
    }

    String value(int depth) {
      int kind = r.nextInt(depth > 3 ? 6 : 9);
      return switch (kind) {
        case 0 -> quoted(string());
        case 1 ->
            pick(List.of("0", "-0", "1.5e308", "1e400", "-1", "12.50", "9".repeat(1200), "0.1"));
        case 2 -> pick(List.of("true", "false", "null"));
        case 3 -> pick(List.of("NaN", "undefined", "'single'", "01", "+1", ".5", "\"unterminated"));
        case 4 -> nested(pick(List.of(2, 17, 33, 40, 600, 5000)));
        case 5 -> quoted(string());
        case 6 -> object(depth + 1);
        default -> array(depth + 1);
      };
    }

    String nested(int depth) {
      boolean arrays = chance(50);
      return (arrays ? "[" : "{\"a\":").repeat(depth) + "1" + (arrays ? "]" : "}").repeat(depth);
    }

    String object(int depth) {
      StringBuilder s = new StringBuilder("{");
      int n = r.nextInt(5);
      for (int i = 0; i < n; i++) {
        if (i > 0) {
          s.append(',');
        }
        s.append(quoted(chance(20) ? "a" : string())).append(':').append(value(depth));
      }
      return s.append('}').toString();
    }

    String array(int depth) {
      StringBuilder s = new StringBuilder("[");
      int n = r.nextInt(5);
      for (int i = 0; i < n; i++) {
        if (i > 0) {
          s.append(',');
        }
        s.append(value(depth));
      }
      return s.append(']').toString();
    }

    /** An event whose members are each valid, missing, or hostile. */
    String event() {
      Map<String, String> members = new LinkedHashMap<>();
      members.put("eventId", quoted("e-" + r.nextInt(1_000_000)));
      members.put("merchantId", quoted(MERCHANT));
      members.put("orderId", quoted("o-" + r.nextInt(1000)));
      members.put("type", quoted("order.paid"));
      members.put("occurredAt", quoted("2026-11-11T00:00:01.250Z"));
      members.put("data", "{\"buyer\":{\"name\":\"张三\"}}");
      for (String k : List.copyOf(members.keySet())) {
        if (chance(15)) {
          members.remove(k);
        } else if (chance(20)) {
          members.put(k, value(1));
        }
      }
      if (chance(10)) {
        members.put(quoted(string()).replace("\"", ""), value(1));
      }
      StringBuilder s = new StringBuilder("{");
      members.forEach(
          (k, v) ->
              s.append(s.length() > 1 ? "," : "").append('"').append(k).append("\":").append(v));
      if (chance(5)) {
        s.append(",\"eventId\":\"dup\"");
      }
      return s.append('}').toString();
    }

    byte[] mutate(byte[] b) {
      if (b.length == 0) {
        return b;
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int cut = chance(30) ? r.nextInt(b.length) : b.length;
      for (int i = 0; i < cut; i++) {
        int roll = r.nextInt(200);
        if (roll == 0) {
          continue;
        } else if (roll == 1) {
          out.write(r.nextInt(256));
        } else if (roll == 2) {
          out.write(
              pick(List.of((int) '{', (int) '[', (int) '"', (int) '\\', (int) ',', 0xC3, 0xFF)));
        }
        out.write(b[i]);
      }
      return out.toByteArray();
    }

    String ingestBody() {
      int kind = r.nextInt(10);
      if (kind < 4) {
        List<String> events = new ArrayList<>();
        int n = r.nextInt(4);
        for (int i = 0; i < n; i++) {
          events.add(event());
        }
        return "[" + String.join(",", events) + "]";
      }
      if (kind < 6) {
        return event() + "\n" + (chance(50) ? "\n" : "") + event() + (chance(50) ? "\n" : "");
      }
      return value(0);
    }

    String pathSegment() {
      int kind = r.nextInt(6);
      return switch (kind) {
        case 0 -> appId;
        case 1 -> MERCHANT;
        case 2 -> UUID.randomUUID().toString();
        case 3 ->
            pick(List.of("%ZZ", "%00", "..", ".", "%2F", "a%20b", "%C3%28", ";x=1", "~", "*"));
        case 4 -> "m".repeat(pick(List.of(64, 65, 300, 3000)));
        default -> string().replaceAll("[\\s\\u0000-\\u001f\\u007f?#]", "_");
      };
    }

    String query() {
      List<String> names = List.of("limit", "after", "fromSeq", "toSeq", "merchantId", "x");
      StringBuilder q = new StringBuilder();
      int n = r.nextInt(4);
      for (int i = 0; i < n; i++) {
        q.append(i == 0 ? "?" : "&")
            .append(pick(names))
            .append('=')
            .append(
                pick(List.of(
                        "-1",
                        "0",
                        "1",
                        "500",
                        "501",
                        "99999999999999999999",
                        "1e3",
                        "abc",
                        "%00",
                        "%ZZ",
                        "",
                        appId,
                        "9".repeat(2000)))
                    .replace(" ", "+"));
      }
      if (chance(5)) {
        q.append("&&=&");
      }
      return q.toString();
    }

    Case request(int n) {
      Map<String, String> headers = new LinkedHashMap<>();
      int surface = r.nextInt(10);
      String method;
      String path;
      String body = null;
      String token;
      if (surface < 3) {
        method = chance(90) ? "POST" : pick(List.of("GET", "PUT", "DELETE", "PATCH"));
        path = "/v1/events";
        body = ingestBody();
        token = TestGateway.INGEST_TOKEN;
        headers.put(
            "Content-Type",
            pick(
                List.of(
                    "application/json",
                    "application/x-ndjson",
                    "text/plain; charset=utf-8",
                    "application/x-www-form-urlencoded",
                    "application/json; charset=latin1")));
      } else if (surface < 6) {
        method = pick(List.of("POST", "PUT", "GET", "DELETE", "PATCH"));
        String template =
            pick(
                List.of(
                    "/v1/apps",
                    "/v1/apps/{a}",
                    "/v1/apps/{a}/grants",
                    "/v1/apps/{a}/endpoint",
                    "/v1/apps/{a}/endpoint/suspend",
                    "/v1/apps/{a}/secret/rotate",
                    "/v1/merchants/{m}/grants/{a}"));
        path = template.replace("{a}", pathSegment()).replace("{m}", pathSegment());
        if (method.equals("DELETE") && path.startsWith("/v1/apps/")) {
          path = path.replace(appId, UUID.randomUUID().toString()); // keep the fuzzing app
        }
        body = chance(80) ? operatorBody() : null;
        token = TestGateway.ADMIN_TOKEN;
        headers.put("Content-Type", "application/json");
      } else if (surface < 8) {
        method = pick(List.of("GET", "PUT", "POST"));
        String template =
            pick(
                List.of(
                    "/v1/merchants/{m}/events",
                    "/v1/channels",
                    "/v1/channels/{m}/cursor",
                    "/v1/stream"));
        path = template.replace("{m}", chance(50) ? MERCHANT : pathSegment());
        body = chance(60) ? pick(List.of("{\"seq\":" + value(1) + "}", value(0))) : null;
        token = appToken;
      } else {
        method = pick(List.of("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"));
        path = "/" + pathSegment() + (chance(50) ? "/" + pathSegment() : "");
        path = pick(List.of(path, "/v1" + path, "/health" + path, "/metrics" + path, "//" + path));
        body = chance(30) ? value(0) : null;
        token = pick(List.of(TestGateway.ADMIN_TOKEN, appToken, TestGateway.INGEST_TOKEN));
      }
      path += query();
      int auth = r.nextInt(10);
      if (auth == 0) {
        token = null;
      } else if (auth == 1) {
        token = string().replaceAll("[\\r\\n\\u0000-\\u001f\\u007f-\\uffff]", "");
      } else if (auth == 2) {
        headers.put(
            "Authorization",
            pick(
                List.of("Basic Zm9vOmJhcg==", "Bearer", "bearer  ", "Bearer " + "a".repeat(8000))));
        token = null;
      }
      if (token != null) {
        headers.put("Authorization", "Bearer " + token);
      }
      byte[] bytes = body == null ? null : body.getBytes(StandardCharsets.UTF_8);
      if (bytes != null && chance(25)) {
        bytes = mutate(bytes);
      }
      return new Case(n, method, path.getBytes(StandardCharsets.UTF_8), headers, bytes);
    }

    String operatorBody() {
      int kind = r.nextInt(6);
      return switch (kind) {
        case 0 ->
            "{\"name\":"
                + quoted("fuzz-" + string())
                + ",\"delivery\":{\"mode\":"
                + quoted(pick(List.of("websocket", "callback", "WEBSOCKET", string())))
                + (chance(50)
                    ? ",\"url\":"
                        + quoted(
                            pick(
                                List.of(
                                    "http://127.0.0.1:9/h",
                                    "https://203.0.113.9/h",
                                    "http://10.0.0.1/",
                                    "http://[::1]/",
                                    "http://0x7f.1/",
                                    "ftp://127.0.0.1/",
                                    "http://user:pw@127.0.0.1/",
                                    "http://127.0.0.1:99999/",
                                    "javascript:alert(1)",
                                    string())))
                    : "")
                + "}}";
        case 1 ->
            "{\"scopes\":"
                + pick(List.of("[\"pii\"]", "[]", "[\"pii\",\"pii\",\"x\"]", value(1), "null"))
                + ",\"start\":"
                + pick(List.of("\"earliest\"", "\"latest\"", value(1)))
                + "}";
        case 2 -> object(0);
        default -> value(0);
      };
    }

    /** 1 to 4 client frames, each raw bytes as sent (masked unless the case is about that). */
    List<byte[]> frames() {
      List<byte[]> frames = new ArrayList<>();
      int n = 1 + r.nextInt(4);
      for (int i = 0; i < n; i++) {
        int kind = r.nextInt(12);
        String ack =
            "{\"type\":\"ack\",\"merchantId\":"
                + quoted(chance(70) ? MERCHANT : string())
                + ",\"seq\":"
                + value(2)
                + "}";
        frames.add(
            switch (kind) {
              case 0 -> frame(0x81, ack.getBytes(StandardCharsets.UTF_8), true);
              case 1 -> frame(0x81, value(0).getBytes(StandardCharsets.UTF_8), true);
              case 2 -> frame(0x81, mutate(ack.getBytes(StandardCharsets.UTF_8)), true);
              case 3 -> frame(0x81, new byte[] {(byte) 0xC3, 0x28, (byte) 0xFF}, true); // bad UTF-8
              case 4 -> frame(0x82, new byte[] {1, 2, 3}, true);
              case 5 -> frame(0x89, new byte[200], true); // ping over 125 bytes
              case 6 -> frame(0x80, "tail".getBytes(StandardCharsets.US_ASCII), true); // no start
              case 7 -> frame(pick(List.of(0x83, 0x8B, 0xC1, 0xF1)), new byte[] {1}, true);
              case 8 -> frame(0x81, ack.getBytes(StandardCharsets.UTF_8), false); // unmasked
              case 9 -> frame(0x88, new byte[] {(byte) 0x03, (byte) 0xE7}, true); // close 999
              case 10 -> frame(0x01, "{\"type\":".getBytes(StandardCharsets.US_ASCII), true);
              default ->
                  frame(
                      0x81,
                      ("[" + nested(pick(List.of(10, 2000)))).getBytes(StandardCharsets.UTF_8),
                      true);
            });
      }
      return frames;
    }

    byte[] frame(int first, byte[] payload, boolean masked) {
      ByteArrayOutputStream f = new ByteArrayOutputStream();
      f.write(first);
      int maskBit = masked ? 0x80 : 0;
      if (payload.length < 126) {
        f.write(maskBit | payload.length);
      } else {
        f.write(maskBit | 126);
        f.write(payload.length >>> 8);
        f.write(payload.length);
      }
      byte[] mask = new byte[4];
      r.nextBytes(mask);
      if (masked) {
        f.write(mask, 0, 4);
      }
      for (int i = 0; i < payload.length; i++) {
        f.write(masked ? payload[i] ^ mask[i & 3] : payload[i]);
      }
      return f.toByteArray();
    }
  }
}
