package io.orderpush.delivery.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.buffer.Buffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CommitFramesTest {

  static Map<String, List<LoggedEvent>> group() {
    Map<String, List<LoggedEvent>> g = new LinkedHashMap<>();
    g.put(
        "m-1",
        List.of(
            new LoggedEvent(7, "{\"seq\":7,\"data\":{\"name\":\"张三\"}}", "{\"seq\":7,\"data\":{}}"),
            new LoggedEvent(8, "{\"seq\":8}", null)));
    g.put("merchant.two:x", List.of(new LoggedEvent(1, "{\"seq\":1,\"data\":\"\"}", "")));
    return g;
  }

  @Test
  void shouldReadBackEveryEventWithBothRenderingsAndTheOrigin() {
    Buffer frame = CommitFrames.encode("node-a", group(), 1 << 20);
    CommitFrames.Frame back = CommitFrames.decode(frame);
    assertThat(back.origin()).isEqualTo("node-a");
    assertThat(back.events()).isEqualTo(group());
    assertThat(back.events().get("m-1").get(1).maskedJson()).isNull();
    assertThat(back.events().get("merchant.two:x").get(0).maskedJson()).isEmpty();
  }

  @Test
  void shouldKeepOnlyTheWantedMerchantsEventsAndStillCheckTheWholeFrame() {
    Buffer frame = CommitFrames.encode("node-a", group(), 1 << 20);
    CommitFrames.Frame back = CommitFrames.decode(frame, m -> m.equals("merchant.two:x"));
    assertThat(back.events()).containsOnlyKeys("merchant.two:x");
    assertThat(back.events().get("merchant.two:x")).isEqualTo(group().get("merchant.two:x"));
    Buffer cut = frame.getBuffer(0, frame.length() - 1);
    assertThatThrownBy(() -> CommitFrames.decode(cut, m -> false))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void shouldEncodeNothingForAGroupLargerThanTheLimit() {
    Buffer whole = CommitFrames.encode("node-a", group(), 1 << 20);
    assertThat(CommitFrames.encode("node-a", group(), whole.length())).isNotNull();
    assertThat(CommitFrames.encode("node-a", group(), whole.length() - 1)).isNull();
  }

  @Test
  void shouldSplitALargeGroupIntoFramesOfWholeMerchantsAndTellWhichCouldNotFit() {
    Map<String, List<LoggedEvent>> g = new LinkedHashMap<>();
    for (int m = 0; m < 40; m++) {
      List<LoggedEvent> events = new java.util.ArrayList<>();
      for (int seq = 1; seq <= 10; seq++) {
        events.add(
            new LoggedEvent(seq, "{\"seq\":" + seq + ",\"pad\":\"" + "x".repeat(90) + "\"}"));
      }
      g.put("m-" + m, events);
    }
    CommitFrames.Split split = CommitFrames.encodeSplit("a", g, 8_000);
    assertThat(split.whole()).isTrue();
    assertThat(split.frames()).hasSizeGreaterThan(1);
    Map<String, List<LoggedEvent>> back = new LinkedHashMap<>();
    for (Buffer frame : split.frames()) {
      assertThat(frame.length()).isLessThanOrEqualTo(8_000);
      back.putAll(CommitFrames.decode(frame).events());
    }
    assertThat(back).isEqualTo(g);

    g.put("big", List.of(new LoggedEvent(1, "{\"pad\":\"" + "y".repeat(9_000) + "\"}")));
    CommitFrames.Split without = CommitFrames.encodeSplit("a", g, 8_000);
    assertThat(without.whole()).isFalse();
    Map<String, List<LoggedEvent>> rest = new LinkedHashMap<>();
    without.frames().forEach(f -> rest.putAll(CommitFrames.decode(f).events()));
    assertThat(rest).doesNotContainKey("big").hasSize(40);
  }

  @Test
  void shouldRefuseEveryFrameCutShortOrWithBytesAfterIt() {
    Buffer frame = CommitFrames.encode("node-a", group(), 1 << 20);
    for (int cut = 0; cut < frame.length(); cut++) {
      Buffer part = frame.getBuffer(0, cut);
      assertThatThrownBy(() -> CommitFrames.decode(part))
          .as("cut at %d", cut)
          .isInstanceOf(IllegalArgumentException.class);
    }
    Buffer longer = frame.copy().appendByte((byte) 0);
    assertThatThrownBy(() -> CommitFrames.decode(longer))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void shouldRefuseFramesWhoseSeqsDoNotIncreaseOrWithAnotherVersion() {
    Map<String, List<LoggedEvent>> backwards =
        Map.of("m", List.of(new LoggedEvent(5, "{}"), new LoggedEvent(5, "{}")));
    assertThatThrownBy(() -> CommitFrames.decode(CommitFrames.encode("a", backwards, 1 << 20)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("out of order");
    Buffer frame = CommitFrames.encode("node-a", group(), 1 << 20);
    frame.setByte(1, (byte) (CommitFrames.VERSION + 1));
    assertThatThrownBy(() -> CommitFrames.decode(frame))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("version");
  }

  @Test
  void shouldNeverThrowAnythingButIllegalArgumentOnDamagedFrames() {
    Random random = new Random(42);
    Buffer frame = CommitFrames.encode("node-a", group(), 1 << 20);
    for (int i = 0; i < 20_000; i++) {
      Buffer damaged = frame.copy();
      damaged.setByte(random.nextInt(frame.length()), (byte) random.nextInt(256));
      try {
        CommitFrames.decode(damaged);
      } catch (IllegalArgumentException refused) {
        // expected for most damage; the rest decodes to some other well-formed frame
      }
    }
  }
}
