package io.orderpush.persistence.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Event-type subscriptions and the delivered event's prevSeq. */
class EventTypesTest {

  private static LoggedEvent event(long seq, String type) {
    return new LoggedEvent(
        seq,
        "{\"seq\":"
            + seq
            + ",\"ingestedAt\":\"2026-11-30T00:00:00.000Z\",\"eventId\":\"e\\\",\\\"type\\\":\\\"x"
            + "\",\"orderId\":\"o\",\"type\":\""
            + type
            + "\",\"occurredAt\":\"2026-11-30T00:00:00Z\",\"data\":{\"type\":\"inner\"}}");
  }

  @Test
  void shouldMatchExactTypesAndTrailingStarPrefixes() {
    EventTypes t = EventTypes.of(List.of("order.paid", "order.refund*"));
    assertThat(t.all()).isFalse();
    assertThat(t.includes("order.paid")).isTrue();
    assertThat(t.includes("order.refund")).isTrue();
    assertThat(t.includes("order.refund.done")).isTrue();
    assertThat(t.includes("order.paid.x")).isFalse();
    assertThat(t.includes("order.created")).isFalse();
    assertThat(EventTypes.of(List.of()).all()).isTrue();
    assertThat(EventTypes.of(List.of("*")).includes("anything")).isTrue();
  }

  @Test
  void shouldRefuseBadPatternsAndTooMany() {
    for (String bad : List.of("", "order paid", "order.*.x", "a**", "x".repeat(65), "é")) {
      assertThatThrownBy(() -> EventTypes.of(List.of(bad)))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
    assertThatThrownBy(
            () -> EventTypes.of(Collections.nCopies(EventTypes.MAX_PATTERNS + 1, "order.paid")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(EventTypes.of(List.of("a", "a", "b*")).patterns()).containsExactly("a", "b*");
  }

  @Test
  void shouldReadTheEventsOwnTypeNotOneInItsIdsOrData() {
    assertThat(event(3, "order.paid").type()).isEqualTo("order.paid");
  }

  @Test
  void shouldWritePrevSeqRightAfterTheSeqAndKeepTheRest() {
    LoggedEvent e = event(12, "order.paid").withPrevSeq(7);
    String delivered = e.appendTo(new StringBuilder()).toString();
    assertThat(delivered).startsWith("{\"seq\":12,\"prevSeq\":7,\"ingestedAt\":");
    assertThat(delivered.getBytes(java.nio.charset.StandardCharsets.UTF_8))
        .hasSize(e.deliveredUtf8Length(EventJson.utf8Length(e.json())));
    JsonObject parsed = new JsonObject(delivered);
    assertThat(parsed.getLong("prevSeq")).isEqualTo(7L);
    assertThat(parsed.getString("type")).isEqualTo("order.paid");
    assertThat(
            new JsonObject(event(1, "a").appendTo(new StringBuilder()).toString())
                .getLong("prevSeq"))
        .isZero();
  }

  @Test
  void shouldChainPrevSeqOverTheEventsLeftOut() {
    List<LoggedEvent> events = new ArrayList<>();
    String[] types = {"order.created", "order.paid", "order.shipped", "order.refund.done", "x"};
    for (int i = 0; i < types.length; i++) {
      events.add(event(11 + i, types[i]));
    }
    List<LoggedEvent> got =
        LoggedEvent.included(events, EventTypes.of(List.of("order.paid", "order.refund*")), 4);
    assertThat(got).extracting(LoggedEvent::seq).containsExactly(12L, 14L);
    assertThat(got).extracting(LoggedEvent::prevSeq).containsExactly(4L, 12L);
    assertThat(LoggedEvent.included(events, EventTypes.ALL, 10)).isSameAs(events);
    assertThat(LoggedEvent.included(events, EventTypes.ALL, 4))
        .extracting(LoggedEvent::prevSeq)
        .containsExactly(4L, 11L, 12L, 13L, 14L);
    // masking keeps the prevSeq
    LoggedEvent withMask = new LoggedEvent(5, "{\"seq\":5,\"a\":1}", "{\"seq\":5,\"a\":2}", 2);
    assertThat(LoggedEvent.masked(List.of(withMask)).get(0).prevSeq()).isEqualTo(2L);
  }
}
