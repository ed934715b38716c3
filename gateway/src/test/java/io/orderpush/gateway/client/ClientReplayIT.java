package io.orderpush.gateway.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.orderpush.client.ApiErrorException;
import io.orderpush.client.Event;
import io.orderpush.client.OrderPushClient;
import io.orderpush.client.ReplayIterator;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import java.io.File;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The client's replay iterator against a real gateway, over a merchant with 100,000 events: every
 * event once in seq order, a page (one request) at a time, and in a JVM whose heap could not hold
 * the events, so nothing accumulates.
 */
class ClientReplayIT {

  static final int EVENTS = 100_000;
  static final int PAGE = 1000;

  /** Far below what 100,000 events (about 70 MB as objects) or one response of them would need. */
  static final String SMALL_HEAP = "-Xmx24m";

  static TestGateway gw;
  static String merchant;
  static TestApps.Created app;
  static final List<String> apps = new ArrayList<>();

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of());
    merchant = ClientConsumerIT.merchants(1).get(0);
    app = TestApps.create(gw, "client-replay", null);
    apps.add(app.appId());
    TestApps.grant(gw, merchant, app.appId(), "{\"start\":\"earliest\"}");
    for (int i = 0; i < EVENTS; i += 1000) {
      ClientConsumerIT.ingestTo(gw, merchant, i, 1000);
    }
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      TestApps.deleteRows(gw, apps);
      gw.close();
    }
  }

  static URI base() {
    return URI.create("http://127.0.0.1:" + gw.port);
  }

  @Test
  void shouldIterateAHundredThousandEventsInOrderOnePageAtATime() {
    OrderPushClient client = new OrderPushClient(base(), app.token());
    long n = 0;
    try (ReplayIterator it = client.replay(merchant, 1, Long.MAX_VALUE, PAGE)) {
      while (it.hasNext()) {
        Event e = it.next();
        assertThat(e.seq()).isEqualTo(++n);
        assertThat(e.prevSeq()).isEqualTo(e.seq() - 1);
        assertThat(e.eventId()).isEqualTo(merchant + "-e" + (n - 1));
      }
      assertThat(n).isEqualTo(EVENTS);
      // 100 full pages, then one empty page that says the head was reached
      assertThat(it.pages()).isEqualTo(EVENTS / PAGE + 1);
    }
  }

  @Test
  void shouldReplayAHundredThousandEventsInAHeapTooSmallToHoldThem() throws Exception {
    List<String> command =
        List.of(
            new File(System.getProperty("java.home"), "bin/java").getPath(),
            SMALL_HEAP,
            "-cp",
            System.getProperty("java.class.path"),
            ReplayProbe.class.getName(),
            base().toString(),
            app.token(),
            merchant,
            Integer.toString(PAGE));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out).contains("events=" + EVENTS + " pages=" + (EVENTS / PAGE + 1));
  }

  @Test
  void shouldStopAtToSeqAndSplitTheRangeIntoPages() {
    OrderPushClient client = new OrderPushClient(base(), app.token());
    List<Long> seqs = new ArrayList<>();
    try (ReplayIterator it = client.replay(merchant, 99_990, 99_995, 4)) {
      it.forEachRemaining(e -> seqs.add(e.seq()));
      assertThat(it.pages()).isEqualTo(2);
    }
    assertThat(seqs).containsExactly(99_990L, 99_991L, 99_992L, 99_993L, 99_994L, 99_995L);
  }

  @Test
  void shouldSurfaceTheGatewaysRefusalAsAnApiError() {
    OrderPushClient client = new OrderPushClient(base(), app.token());
    String other = ClientConsumerIT.merchants(1).get(0);
    try (ReplayIterator it = client.replay(other, 1)) {
      assertThatThrownBy(it::hasNext)
          .isInstanceOfSatisfying(
              ApiErrorException.class,
              e -> {
                assertThat(e.status()).isEqualTo(403);
                assertThat(e.code()).isEqualTo("forbidden");
              });
    }
  }
}
