package io.orderpush.drill;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.synthetic.Population;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.ServerWebSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The verifying consumers over real sockets: what they apply, ack, answer and flag. */
class ConsumersTest {

  private static final String AT = "2026-11-24T10:00:00.000Z";
  private static final long NOW = java.time.Instant.now().getEpochSecond();
  private static final String SECRET = "whsec_" + Base64.getEncoder().encodeToString(new byte[32]);

  private final Vertx vertx = Vertx.vertx();
  private final Population population = Population.doubleEleven(0.00001, 1, 5);
  private final Population.Merchant tail = population.merchant("drill-t000001");

  @AfterEach
  void close() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  /**
   * {"seq":..,"ingestedAt":..,"orderId":..,"type":..} for the tail merchant's events from seq 1,
   * skipping {@code skip}.
   */
  private String events(long skip, long upTo) {
    StringBuilder b = new StringBuilder("[");
    long seq = 0;
    for (int o = 0; o < tail.orders() && seq < upTo; o++) {
      for (String type : population.lifecycle(tail.index(), o)) {
        if (++seq > upTo) {
          break;
        }
        if (seq == skip) {
          continue;
        }
        b.append(b.length() > 1 ? "," : "")
            .append("{\"seq\":")
            .append(seq)
            .append(",\"ingestedAt\":\"")
            .append(AT)
            .append("\",\"eventId\":\"e")
            .append(seq)
            .append("\",\"orderId\":\"")
            .append(Population.orderId(tail.id(), o))
            .append("\",\"type\":\"")
            .append(type)
            .append("\",\"data\":{}}");
      }
    }
    return b.append(']').toString();
  }

  @Test
  void webSocketGroupAppliesAcksAndFlagsAGap() throws Exception {
    List<String> acks = new CopyOnWriteArrayList<>();
    String body = events(2, 3); // seq 1 and 3: 2 is missing
    HttpServer server =
        vertx
            .createHttpServer()
            .webSocketHandler(
                (ServerWebSocket ws) -> {
                  ws.textMessageHandler(acks::add);
                  ws.writeTextMessage("{\"type\":\"hello\"}");
                  ws.writeTextMessage(
                      "{\"type\":\"assigned\",\"merchants\":[\"" + tail.id() + "\"]}");
                  ws.writeTextMessage(
                      "{\"type\":\"events\",\"merchantId\":\""
                          + tail.id()
                          + "\",\"events\":"
                          + body
                          + "}");
                })
            .listen(0, "127.0.0.1")
            .toCompletionStage()
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    Verifier verifier = new Verifier("ws", population);
    WsConsumerGroup group =
        new WsConsumerGroup(
            vertx, URI.create("http://127.0.0.1:" + server.actualPort()), "t", verifier);

    group.connect(1).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);

    long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (acks.isEmpty() && System.nanoTime() < until) {
      Thread.sleep(10); // waiting for the ack to arrive, not for time to pass
    }
    assertThat(acks)
        .containsExactly("{\"type\":\"ack\",\"merchantId\":\"" + tail.id() + "\",\"seq\":3}");
    assertThat(group.assigned()).isEqualTo(1);
    Verifier.Outcome o =
        group
            .onLoop(verifier::outcome)
            .toCompletionStage()
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    assertThat(o.applied()).isEqualTo(2);
    assertThat(o.gaps()).isEqualTo(1);
    assertThat(o.passed()).isFalse();
  }

  @Test
  void callbackReceiverAcceptsSignedBatchesRefusesBadSignaturesAndCountsRepeats() throws Exception {
    Verifier verifier = new Verifier("callback", population);
    CallbackReceiver receiver = new CallbackReceiver(vertx, verifier, 1);
    int port =
        receiver.listen().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    receiver.secret(SECRET).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    HttpClientAgent client = vertx.createHttpClient();
    String batch = "{\"merchantId\":\"" + tail.id() + "\",\"events\":" + events(-1, 2) + "}";

    assertThat(post(client, port, batch, sign("msg_1", batch))).isEqualTo(204);
    assertThat(post(client, port, batch, "v1," + Base64.getEncoder().encodeToString(new byte[32])))
        .isEqualTo(401);
    assertThat(post(client, port, batch, sign("msg_1", batch)))
        .isEqualTo(204); // the same batch again

    Verifier.Outcome o =
        receiver
            .onLoop(verifier::outcome)
            .toCompletionStage()
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    assertThat(o.applied()).isEqualTo(2);
    assertThat(o.repeats()).isEqualTo(2);
    assertThat(receiver.verified).isEqualTo(2);
    assertThat(o.firstErrors()).anyMatch(e -> e.contains("bad webhook signature"));
  }

  private int post(HttpClientAgent client, int port, String body, String signature)
      throws Exception {
    RequestOptions req =
        new RequestOptions()
            .setMethod(HttpMethod.POST)
            .setHost("127.0.0.1")
            .setPort(port)
            .setURI("/hook")
            .putHeader("webhook-id", "msg_1")
            .putHeader("webhook-timestamp", Long.toString(NOW))
            .putHeader("webhook-signature", signature);
    return client
        .request(req)
        .compose(r -> r.send(Buffer.buffer(body)))
        .map(r -> r.statusCode())
        .toCompletionStage()
        .toCompletableFuture()
        .get(10, TimeUnit.SECONDS);
  }

  private static String sign(String id, String body) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(Base64.getDecoder().decode(SECRET.substring(6)), "HmacSHA256"));
    byte[] sig = mac.doFinal((id + "." + NOW + "." + body).getBytes(StandardCharsets.UTF_8));
    return "v1," + Base64.getEncoder().encodeToString(sig);
  }
}
