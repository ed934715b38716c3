package io.orderpush.gateway.ingest;

import static io.orderpush.gateway.Events.batch;
import static io.orderpush.gateway.Events.event;
import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.TestGateway;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * ingest.max-in-flight-bytes: request bodies in flight are bounded; past it, 503 before reading.
 */
class IngestAdmissionIT {

  static TestGateway gw;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_INGEST_MAX_REQUEST_BYTES",
                "8192",
                "GATEWAY_INGEST_MAX_IN_FLIGHT_BYTES",
                "8192"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @Test
  void shouldRefuseWith503WhileSlowBodiesHoldTheBudgetAndAdmitAgainOnceTheyAreGone()
      throws Exception {
    String merchant = "adm-" + UUID.randomUUID();
    // A sender that announces 8,000 bytes and sends only a few: admitted, its reservation held.
    try (Socket slow = new Socket("127.0.0.1", gw.port)) {
      OutputStream out = slow.getOutputStream();
      out.write(
          ("POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                  + TestGateway.INGEST_TOKEN
                  + "\r\nContent-Type: application/json\r\nContent-Length: 8000\r\n\r\n[")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Await.until(
          "the slow request is admitted",
          Duration.ofSeconds(10),
          () -> metric("gateway_ingest_in_flight_bytes") >= 8000);

      HttpResponse<String> refused = gw.ingest(batch(List.of(event(merchant, "e-1"))));

      assertThat(refused.statusCode()).isEqualTo(503);
      assertThat(refused.body()).contains("\"overloaded\"");
      assertThat(refused.headers().firstValue("Retry-After")).contains("1");
      assertThat(metric("gateway_ingest_rejected_total{reason=\"in_flight_bytes\""))
          .isGreaterThanOrEqualTo(1);
    }
    // The slow sender is gone: its reservation is released and the same request now gets in.
    Await.until(
        "the reservation is released",
        Duration.ofSeconds(10),
        () -> metric("gateway_ingest_in_flight_bytes") == 0);
    HttpResponse<String> accepted = gw.ingest(batch(List.of(event(merchant, "e-1"))));
    assertThat(accepted.statusCode()).isEqualTo(200);
    assertThat(accepted.body()).contains("\"seq\":1");
  }

  private static double metric(String prefix) {
    String text = gw.send("GET", "/metrics", null, null).body();
    return text.lines()
        .filter(l -> l.startsWith(prefix))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }
}
