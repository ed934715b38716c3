package io.orderpush.delivery.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.persistence.events.EventJson;
import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class StreamMessagesTest {

  static LoggedEvent event(long seq, String text) {
    return new LoggedEvent(seq, new JsonObject().put("seq", seq).put("data", text).encode());
  }

  /** The messages as text, decoded from their UTF-8 bytes. */
  static List<String> text(List<io.netty.buffer.ByteBuf> messages) {
    return messages.stream().map(b -> b.toString(java.nio.charset.StandardCharsets.UTF_8)).toList();
  }

  static List<Long> seqs(List<String> messages) {
    List<Long> seqs = new ArrayList<>();
    for (String m : messages) {
      JsonObject msg = new JsonObject(m);
      assertThat(msg.getString("type")).isEqualTo("events");
      assertThat(msg.getString("merchantId")).isEqualTo("m-\"1\"");
      JsonArray events = msg.getJsonArray("events");
      for (int i = 0; i < events.size(); i++) {
        seqs.add(events.getJsonObject(i).getLong("seq"));
      }
    }
    return seqs;
  }

  @Test
  void shouldCarryEveryEventInOrderWithinTheSizeLimit() {
    List<LoggedEvent> events = new ArrayList<>();
    for (long seq = 1; seq <= 50; seq++) {
      // mixed Latin-1 and CJK text: the builder changes its coding on the way
      events.add(event(seq, (seq % 3 == 0 ? "订单" : "order ").repeat((int) seq * 3)));
    }
    List<io.netty.buffer.ByteBuf> bufs = StreamMessages.events("m-\"1\"", events, 2_000);
    List<String> messages = text(bufs);

    assertThat(messages).hasSizeGreaterThan(1);
    assertThat(bufs).allSatisfy(b -> assertThat(b.readableBytes()).isLessThanOrEqualTo(2_000));
    assertThat(seqs(messages))
        .containsExactlyElementsOf(events.stream().map(LoggedEvent::seq).toList());
  }

  /**
   * The limit counts bytes on the wire, not characters: a CJK character takes three bytes of UTF-8
   * (a bound in characters let messages of such text reach three times the documented size).
   */
  @Test
  void shouldBoundEachMessageInUtf8BytesAndFillItUpToTheBound() {
    List<LoggedEvent> events = new ArrayList<>();
    for (long seq = 1; seq <= 40; seq++) {
      events.add(event(seq, "张三北京市朝阳区".repeat(10))); // 80 characters, 240 bytes
    }
    int max = 4_000;
    List<io.netty.buffer.ByteBuf> bufs = StreamMessages.events("m-\"1\"", events, max);

    assertThat(bufs).allSatisfy(b -> assertThat(b.readableBytes()).isLessThanOrEqualTo(max));
    assertThat(bufs).allSatisfy(b -> assertThat(b.readableBytes()).isEqualTo(b.capacity()));
    int one =
        bufs.get(bufs.size() - 1).readableBytes()
            / (int) seqs(text(List.of(bufs.get(bufs.size() - 1)))).size();
    for (io.netty.buffer.ByteBuf b : bufs.subList(0, bufs.size() - 1)) {
      assertThat(b.readableBytes())
          .as("full up to one event short of the bound")
          .isGreaterThan(max - 2 * one);
    }
    assertThat(seqs(text(bufs)))
        .containsExactlyElementsOf(events.stream().map(LoggedEvent::seq).toList());
  }

  @Test
  void shouldSendAnEventLargerThanTheLimitAloneInOneMessage() {
    List<LoggedEvent> events = List.of(event(1, "a"), event(2, "x".repeat(5_000)), event(3, "b"));

    List<String> messages = text(StreamMessages.events("m-\"1\"", events, 1_000));

    assertThat(messages).hasSize(3);
    assertThat(seqs(messages)).containsExactly(1L, 2L, 3L);
  }

  @Test
  void shouldPutSmallBatchesInOneMessage() {
    List<String> messages =
        text(StreamMessages.events("m-\"1\"", List.of(event(7, "a"), event(8, "b")), 1 << 20));

    assertThat(messages).hasSize(1);
    assertThat(seqs(messages)).containsExactly(7L, 8L);
  }

  @Test
  void shouldWriteEachMessageAsTheUtf8OfItsTextWithPrevSeqAfterTheSeq() {
    String line =
        EventJson.line(
            12,
            EventJson.afterSeq(java.time.Instant.parse("2026-11-11T00:00:00Z")),
            EventJson.tail(
                "e-\"1\"", "o-1", "order.paid", "2026-11-11T00:00:00Z", "{\"name\":\"张三 😀\"}"));
    List<LoggedEvent> events =
        List.of(new LoggedEvent(12, line, null, 9), new LoggedEvent(13, "{\"seq\":13}"));

    List<io.netty.buffer.ByteBuf> messages = StreamMessages.events("m-1", events, 1 << 20);

    StringBuilder expected =
        new StringBuilder("{\"type\":\"events\",\"merchantId\":\"m-1\",\"events\":[");
    events.get(0).appendTo(expected).append(',');
    events.get(1).appendTo(expected).append("]}");
    assertThat(messages).hasSize(1);
    assertThat(messages.get(0).readableBytes())
        .as("sized exactly")
        .isEqualTo(messages.get(0).capacity())
        .isEqualTo(expected.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
    assertThat(text(messages)).containsExactly(expected.toString());
    JsonObject first =
        new JsonObject(text(messages).get(0)).getJsonArray("events").getJsonObject(0);
    assertThat(first.getLong("prevSeq")).isEqualTo(9);
    assertThat(first.getJsonObject("data").getString("name")).isEqualTo("张三 😀");
  }
}
