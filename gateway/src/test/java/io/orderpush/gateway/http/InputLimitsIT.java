package io.orderpush.gateway.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.testing.RawHttp;
import io.orderpush.gateway.testing.RawHttp.WebSocketConnection;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every input limit answers a precise 4xx or a documented close code, never a 5xx or a stall. */
class InputLimitsIT {

  static final int RATE = 20;
  static TestGateway gw;
  static String appId;
  static String appToken;
  static String merchant = TestServices.uniqueMerchant("limits");

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of("GATEWAY_STREAM_MAX_CLIENT_MESSAGES_PER_SECOND", "" + RATE));
    JsonObject app =
        new JsonObject(
            admin("POST", "/v1/apps", "{\"name\":\"limits\",\"delivery\":{\"mode\":\"websocket\"}}")
                .body());
    appId = app.getString("appId");
    appToken = app.getString("token");
    admin("PUT", "/v1/merchants/" + merchant + "/grants/" + appId, "{}");
  }

  @AfterAll
  static void stop() {
    gw.gateway
        .pool()
        .preparedQuery("DELETE FROM apps WHERE app_id = $1")
        .execute(Tuple.of(UUID.fromString(appId)))
        .toCompletionStage()
        .toCompletableFuture()
        .join();
    gw.close();
  }

  static HttpResponse<String> admin(String method, String path, String body) {
    return gw.send(method, path, TestGateway.ADMIN_TOKEN, body);
  }

  static String nested(int depth, String open, String close, String inner) {
    return open.repeat(depth - 1) + inner + close.repeat(depth - 1);
  }

  static String event(String eventId, String data) {
    return "{\"eventId\":\""
        + eventId
        + "\",\"merchantId\":\""
        + merchant
        + "\",\"orderId\":\"o-1\",\"type\":\"order.paid\","
        + "\"occurredAt\":\"2026-11-11T00:00:01Z\",\"data\":"
        + data
        + "}";
  }

  static JsonObject error(HttpResponse<String> r, int status, String code) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    JsonObject body = new JsonObject(r.body());
    assertThat(body.getString("error")).isEqualTo(code);
    return body;
  }

  /** Sends a cursor PUT's head announcing 60,000 bytes of body, and only its first byte. */
  static java.net.Socket cursorPutWithoutItsBody(String token) throws IOException {
    java.net.Socket s = RawHttp.connect("127.0.0.1", gw.port, 10_000);
    s.getOutputStream()
        .write(
            ("PUT /v1/channels/"
                    + merchant
                    + "/cursor HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                    + token
                    + "\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    s.getOutputStream().flush();
    return s;
  }

  @Test
  void shouldRefuseAWrongAppTokenOnACursorPutBeforeReadingItsBodyAndServeTheConnectionAfter()
      throws Exception {
    try (java.net.Socket s = cursorPutWithoutItsBody("not-a-token")) {
      // answered with 59,999 bytes of the body still unsent: the token is checked first
      RawHttp.Response r = RawHttp.readResponse(s.getInputStream(), false);
      assertThat(r.status()).isEqualTo(401);
      // what is left of the body is read and dropped, then the connection serves the next request
      String rest = " ".repeat(59_998) + "}";
      s.getOutputStream()
          .write(
              (rest + "GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      skipBody(s.getInputStream(), r);
      assertThat(RawHttp.readResponse(s.getInputStream(), false).status()).isEqualTo(200);
    }
    // with the app's own token the body is waited for, then taken
    try (java.net.Socket s = cursorPutWithoutItsBody(appToken)) {
      s.setSoTimeout(1_000);
      assertThat(s.getInputStream().available()).isZero();
      assertThatThrownBy(() -> s.getInputStream().read())
          .isInstanceOf(java.net.SocketTimeoutException.class);
      s.setSoTimeout(10_000);
      s.getOutputStream()
          .write(
              ("\"seq\": 0" + " ".repeat(60_000 - 10) + "}")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      RawHttp.Response r = RawHttp.readResponse(s.getInputStream(), false);
      assertThat(r.status()).isEqualTo(200);
    }
  }

  @Test
  void
      shouldRefuseAWrongAppTokenOnACursorPutThatWaitsFor100ContinueAndCloseTheConnectionButAskAValidOneForItsBody()
          throws Exception {
    // a wrong token, and none at all
    for (String auth : List.of("Authorization: Bearer not-a-token\r\n", "")) {
      try (java.net.Socket s = RawHttp.connect("127.0.0.1", gw.port, 10_000)) {
        s.getOutputStream()
            .write(
                ("PUT /v1/channels/"
                        + merchant
                        + "/cursor HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        + auth
                        + "Content-Type: application/json\r\nContent-Length: 60000"
                        + "\r\nExpect: 100-continue\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        // no 100 Continue: the refusal comes first, and the body, which the client may never
        // send, is not waited for: the connection closes after the answer
        RawHttp.Response r = RawHttp.readResponse(s.getInputStream(), false);
        assertThat(r.status()).isEqualTo(401);
        assertThat(r.header("connection")).isEqualToIgnoringCase("close");
        skipBody(s.getInputStream(), r);
        assertThat(s.getInputStream().read())
            .as("the connection closed after the 401")
            .isEqualTo(-1);
      }
    }
    // with the app's own token the client is asked for the body, and it is taken
    try (java.net.Socket s = RawHttp.connect("127.0.0.1", gw.port, 10_000)) {
      String body = "{\"seq\": 0}";
      s.getOutputStream()
          .write(
              ("PUT /v1/channels/"
                      + merchant
                      + "/cursor HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                      + appToken
                      + "\r\nContent-Type: application/json\r\nContent-Length: "
                      + body.length()
                      + "\r\nExpect: 100-continue\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      assertThat(RawHttp.readResponse(s.getInputStream(), false).status()).isEqualTo(100);
      s.getOutputStream().write(body.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      assertThat(RawHttp.readResponse(s.getInputStream(), false).status()).isEqualTo(200);
    }
  }

  @Test
  void shouldReadAndDropTheBodyOfACursorPutTooLargeForAValidTokenAndServeTheConnectionAfter()
      throws Exception {
    try (java.net.Socket s = RawHttp.connect("127.0.0.1", gw.port, 10_000)) {
      s.getOutputStream()
          .write(
              ("PUT /v1/channels/"
                      + merchant
                      + "/cursor HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                      + appToken
                      + "\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      RawHttp.Response r = RawHttp.readResponse(s.getInputStream(), false);
      assertThat(r.status()).as("over the 64 KiB body limit").isEqualTo(413);
      s.getOutputStream()
          .write(
              (" ".repeat(70_000) + "GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      skipBody(s.getInputStream(), r);
      assertThat(RawHttp.readResponse(s.getInputStream(), false).status()).isEqualTo(200);
    }
  }

  static void skipBody(java.io.InputStream in, RawHttp.Response r) throws IOException {
    String length = r.header("content-length");
    in.readNBytes(length == null ? 0 : Integer.parseInt(length));
  }

  @Test
  void shouldAnswerARequestAskingToUpgradeToCleartextHttp2OverHttp11() throws Exception {
    // The JDK's HttpClient (and so the Java client library) asks for h2c on its first request.
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", gw.port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream()
          .write(
              ("GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      + "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                      + "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      String status =
          new java.io.BufferedReader(
                  new java.io.InputStreamReader(
                      s.getInputStream(), java.nio.charset.StandardCharsets.US_ASCII))
              .readLine();
      assertThat(status).isEqualTo("HTTP/1.1 200 OK");
    }
  }

  @Test
  void shouldRefuseIngestDataNestedPastTheLimitNamingTheEventAndAcceptItAtTheLimit() {
    String atLimit = nested(32, "{\"a\":", "}", "{}");
    String tooDeep = nested(33, "{\"a\":", "}", "{}");
    String deepArray = "{\"a\":" + nested(32, "[", "]", "[]") + "}";
    JsonObject refused =
        error(
            gw.ingest(
                "["
                    + event("d-1", atLimit)
                    + ","
                    + event("d-2", tooDeep)
                    + ","
                    + event("d-3", deepArray)
                    + "]"),
            400,
            "invalid_events");
    assertThat(refused.getJsonArray("details"))
        .containsExactly(
            new JsonObject()
                .put("index", 1)
                .put("field", "data")
                .put("problem", "must nest at most 32 levels deep"),
            new JsonObject()
                .put("index", 2)
                .put("field", "data")
                .put("problem", "must nest at most 32 levels deep"));
    assertThat(gw.ingest("[" + event("d-1", atLimit) + "]").statusCode()).isEqualTo(200);
  }

  @Test
  void shouldStopAtOnceOnABodyNestedFarDeeperInDataOrInAnUnknownMember() {
    String deep = nested(200_000, "[", "]", "1");
    error(gw.ingest("[" + event("x-1", "{\"a\":" + deep + "}") + "]"), 400, "too_deep");
    error(
        gw.ingest(
            "["
                + event("x-2", "{}").replace("{\"eventId\"", "{\"junk\":" + deep + ",\"eventId\"")
                + "]"),
        400,
        "too_deep");
    error(gw.ingest(deep), 400, "too_deep");
  }

  @Test
  void shouldRefuseDeeplyNestedOperatorBodies() {
    String deep = "{\"name\":\"x\",\"delivery\":" + nested(17, "{\"a\":", "}", "{}") + "}";
    error(admin("POST", "/v1/apps", deep), 400, "too_deep");
    error(admin("POST", "/v1/apps", nested(20_000, "[", "]", "1")), 400, "too_deep");
    error(
        admin("PUT", "/v1/merchants/" + merchant + "/grants/" + appId, nested(30, "[", "]", "1")),
        400,
        "too_deep");
    error(
        gw.send(
            "PUT",
            "/v1/channels/" + merchant + "/cursor",
            appToken,
            nested(30, "{\"s\":", "}", "1")),
        400,
        "too_deep");
    // Within the depth, the fields decide.
    error(
        admin(
            "POST",
            "/v1/apps",
            "{\"name\":\"x\",\"delivery\":" + nested(15, "{\"a\":", "}", "{}") + "}"),
        400,
        "invalid_request");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "name|{\"name\":\"%s\",\"delivery\":{\"mode\":\"websocket\"}}|201",
        "delivery.url|{\"name\":\"n\",\"delivery\":{\"mode\":\"callback\",\"url\":\"https://a.example/%s\"}}|2049",
        "delivery.mode|{\"name\":\"n\",\"delivery\":{\"mode\":\"%s\"}}|60000",
      })
  void shouldRefuseOverlongAppFieldsNamingTheField(String field, String template, int length) {
    String body = template.formatted("x".repeat(length));
    JsonObject e = error(admin("POST", "/v1/apps", body), 400, "invalid_request");
    assertThat(e.getJsonArray("details").getJsonObject(0).getString("field")).isEqualTo(field);
    assertThat(e.getString("message")).hasSizeLessThan(300);
  }

  @Test
  void shouldRefuseOverlongGrantFieldsPathsAndQueryParameters() {
    String grant = "/v1/merchants/" + merchant + "/grants/" + appId;
    error(
        admin("PUT", grant, "{\"scopes\":[\"" + "p".repeat(60_000) + "\"]}"),
        400,
        "invalid_request");
    error(
        admin("PUT", grant, "{\"start\":\"" + "e".repeat(60_000) + "\"}"), 400, "invalid_request");
    error(admin("PUT", grant, "{\"scopes\":[\"" + "p".repeat(70_000) + "\"]}"), 413, "too_large");
    error(
        admin("PUT", "/v1/merchants/" + "m".repeat(65) + "/grants/" + appId, "{}"),
        400,
        "invalid_request");
    error(admin("GET", "/v1/apps?limit=" + "9".repeat(3000), null), 400, "invalid_request");
    error(
        admin("GET", "/v1/apps/" + appId + "/grants?after=" + "a".repeat(3000), null),
        400,
        "invalid_request");
    error(
        gw.send(
            "GET",
            "/v1/merchants/" + merchant + "/events?fromSeq=" + "9".repeat(3000),
            appToken,
            null),
        400,
        "invalid_request");
    // Past the request line limit, the HTTP layer answers, still a 4xx, and closes the connection
    // without saying so: a client of its own, so the shared one never pools that connection (the
    // next test's first request went out on it once, and met a broken pipe).
    assertThat(
            TestGateway.send(
                    gw.port,
                    java.net.http.HttpClient.newHttpClient(),
                    "GET",
                    "/v1/apps?after=" + "a".repeat(9000),
                    TestGateway.ADMIN_TOKEN,
                    null)
                .statusCode())
        .isIn(414, 431);
  }

  WebSocketConnection stream() throws IOException {
    WebSocketConnection ws =
        WebSocketConnection.open("127.0.0.1", gw.port, "/v1/stream", appToken, 10_000);
    assertThat(ws.handshake.status()).isEqualTo(101);
    assertThat(ws.read().text()).contains("\"hello\"");
    return ws;
  }

  @Test
  void shouldCutAFrameAndCloseAMessageLargerThanTheLimitWith1009() throws IOException {
    try (WebSocketConnection ws = stream()) {
      // Only the header of a frame announcing more than the limit: the connection is cut before any
      // payload is read, without a close frame (Vert.x does so for every malformed frame).
      ws.socket
          .getOutputStream()
          .write(new byte[] {(byte) 0x81, (byte) 0xFF, 0, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4});
      assertThat(ws.awaitClose()).isEqualTo(1006);
    }
    try (WebSocketConnection ws = stream()) {
      // One message in three fragments, each within the limit, together past it.
      ws.frame(0x01, "x".repeat(30_000).getBytes());
      ws.frame(0x00, "x".repeat(30_000).getBytes());
      ws.frame(0x80, "x".repeat(30_000).getBytes());
      List<String> texts = new ArrayList<>();
      int code = closeCollecting(ws, texts);
      assertThat(code).isEqualTo(1009);
      assertThat(texts)
          .anySatisfy(
              t -> assertThat(new JsonObject(t).getString("code")).isEqualTo("message_too_large"));
    }
  }

  @Test
  void shouldCloseAClientSendingMoreMessagesASecondThanAllowedWithRateLimited() throws IOException {
    try (WebSocketConnection ws = stream()) {
      String ack = "{\"type\":\"ack\",\"merchantId\":\"" + merchant + "\",\"seq\":0}";
      for (int i = 0; i < RATE * 3; i++) {
        ws.text(ack);
      }
      List<String> texts = new ArrayList<>();
      assertThat(closeCollecting(ws, texts)).isEqualTo(1008);
      assertThat(texts)
          .anySatisfy(
              t -> assertThat(new JsonObject(t).getString("code")).isEqualTo("rate_limited"));
    }
  }

  /**
   * A client that acks every {@code events} message, as the protocol asks, is never closed as rate
   * limited, however many messages the gateway sends it in a second or however late it reads them:
   * 300 acks sent as the messages arrive, then 300 more of messages read all at once and acked over
   * about three seconds, against a limit of 20 a second (the gateway once closed such a client).
   */
  @Test
  void shouldKeepAClientThatAcksEveryEventsMessageOpenHoweverFastTheyCome() throws Exception {
    JsonObject app =
        new JsonObject(
            admin("POST", "/v1/apps", "{\"name\":\"acks\",\"delivery\":{\"mode\":\"websocket\"}}")
                .body());
    String prefix = TestServices.uniqueMerchant("acks");
    List<String> merchants = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      merchants.add(prefix + "-" + i);
    }
    try {
      gw.gateway
          .pool()
          .preparedQuery(
              "INSERT INTO grants (app_id, merchant_id, start_seq) SELECT $1, m, 0 FROM unnest($2::text[]) m")
          .execute(
              Tuple.of(UUID.fromString(app.getString("appId")))
                  .addArrayOfString(merchants.toArray(String[]::new)))
          .toCompletionStage()
          .toCompletableFuture()
          .join();
      try (WebSocketConnection ws =
          WebSocketConnection.open(
              "127.0.0.1", gw.port, "/v1/stream", app.getString("token"), 10_000)) {
        assertThat(ws.handshake.status()).isEqualTo(101);
        java.util.Set<String> assigned = new java.util.HashSet<>();
        while (assigned.size() < merchants.size()) {
          JsonObject msg = new JsonObject(ws.read().text());
          if ("assigned".equals(msg.getString("type"))) {
            msg.getJsonArray("merchants").forEach(m -> assigned.add((String) m));
          }
        }
        // a burst: 300 messages read, then 300 acks at once
        ingestOnePerMerchant(merchants);
        for (Map.Entry<String, Long> last : readEvents(ws, merchants.size()).entrySet()) {
          ack(ws, last.getKey(), last.getValue());
        }
        // read together, acked late and slowly: over about three seconds, 100 a second
        ingestOnePerMerchant(merchants);
        for (Map.Entry<String, Long> last : readEvents(ws, merchants.size()).entrySet()) {
          ack(ws, last.getKey(), last.getValue());
          Thread.sleep(10);
        }
        ws.frame(0x89, "still-there".getBytes()); // ping
        for (var f = ws.read(); ; f = ws.read()) {
          assertThat(f).isNotNull();
          assertThat(f.opcode()).as("no close: " + f.text()).isNotEqualTo(8);
          if (f.opcode() == 0xA) {
            assertThat(f.text()).isEqualTo("still-there");
            break;
          }
          assertThat(new JsonObject(f.text()).getString("code")).isNotEqualTo("rate_limited");
        }
      }
    } finally {
      admin("DELETE", "/v1/apps/" + app.getString("appId"), null); // its grants and cursors too
    }
  }

  static void ingestOnePerMerchant(List<String> merchants) {
    List<JsonObject> events = new ArrayList<>();
    for (String m : merchants) {
      events.add(io.orderpush.gateway.Events.event(m, UUID.randomUUID().toString()));
    }
    var answer = gw.ingest(io.orderpush.gateway.Events.batch(events));
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
  }

  /** Reads {@code messages} events messages: the last seq of each, by merchant, in order read. */
  static Map<String, Long> readEvents(WebSocketConnection ws, int messages) throws IOException {
    Map<String, Long> last = new java.util.LinkedHashMap<>();
    for (int n = 0; n < messages; ) {
      var f = ws.read();
      assertThat(f).as("a frame").isNotNull();
      assertThat(f.opcode()).as("no close: " + f.text()).isNotEqualTo(8);
      JsonObject msg = new JsonObject(f.text());
      assertThat(msg.getString("code")).as(msg.encode()).isNotEqualTo("rate_limited");
      if ("events".equals(msg.getString("type"))) {
        io.vertx.core.json.JsonArray got = msg.getJsonArray("events");
        last.put(msg.getString("merchantId"), got.getJsonObject(got.size() - 1).getLong("seq"));
        n++;
      }
    }
    return last;
  }

  static void ack(WebSocketConnection ws, String merchant, long seq) throws IOException {
    ws.text("{\"type\":\"ack\",\"merchantId\":\"" + merchant + "\",\"seq\":" + seq + "}");
  }

  static int closeCollecting(WebSocketConnection ws, List<String> texts) throws IOException {
    for (var f = ws.read(); ; f = ws.read()) {
      assertThat(f).as("a close frame before the end").isNotNull();
      if (f.opcode() == 8) {
        return f.closeCode();
      }
      texts.add(f.text());
    }
  }

  @Test
  void shouldKeepAClientWithinTheRateOpen() throws Exception {
    try (WebSocketConnection ws = stream()) {
      String ack = "{\"type\":\"ack\",\"merchantId\":\"" + merchant + "\",\"seq\":0}";
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < RATE / 2; i++) {
          ws.text(ack);
        }
        Thread.sleep(1100);
      }
      ws.frame(0x89, "still-there".getBytes()); // ping
      for (var f = ws.read(); ; f = ws.read()) {
        assertThat(f).isNotNull();
        assertThat(f.opcode()).as("no close").isNotEqualTo(8);
        if (f.opcode() == 0xA) {
          assertThat(f.text()).isEqualTo("still-there");
          break;
        }
        // not_assigned may come while the group settles; nothing that closes.
        assertThat(new JsonObject(f.text()).getString("code")).isNotEqualTo("rate_limited");
      }
    }
  }
}
