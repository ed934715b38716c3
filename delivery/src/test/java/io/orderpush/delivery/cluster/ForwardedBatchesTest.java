package io.orderpush.delivery.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.orderpush.delivery.cluster.ForwardedBatches.Outcome;
import io.orderpush.persistence.events.AppendResult;
import io.orderpush.persistence.events.NewEvent;
import io.vertx.core.buffer.Buffer;
import java.util.List;
import org.junit.jupiter.api.Test;

class ForwardedBatchesTest {

  static List<NewEvent> events() {
    return List.of(
        new NewEvent(
            "m-1",
            "e-1",
            "\"eventId\":\"e-1\",\"data\":{\"name\":\"张三\"}}",
            "\"eventId\":\"e-1\",\"data\":{\"name\":\"张*\"}}"),
        new NewEvent("merchant.two:x", "e-\u00e9", "\"eventId\":\"e-\u00e9\",\"data\":{}}", null),
        new NewEvent("m-1", "e-3", "", ""));
  }

  @Test
  void shouldTellTheGoodbyeFromAnswersBatchesAndAnotherVersion() {
    Buffer bye = ForwardedBatches.goodbye();
    assertThat(ForwardedBatches.isGoodbye(bye)).isTrue();
    assertThat(ForwardedBatches.isAnswer(bye)).isFalse();
    assertThat(ForwardedBatches.isBatch(bye)).isFalse();
    Buffer other = bye.copy();
    other.setByte(1, (byte) (CommitFrames.VERSION + 1));
    assertThat(ForwardedBatches.isGoodbye(other)).isFalse();
    assertThat(ForwardedBatches.isGoodbye(bye.copy().appendByte((byte) 0))).isFalse();
    assertThat(
            ForwardedBatches.isGoodbye(
                ForwardedBatches.refused(7, ForwardedBatches.Outcome.FAILED, "x")))
        .isFalse();
  }

  @Test
  void shouldReadBackEveryEventOfABatchInOrderWithBothRenderings() {
    Buffer b = ForwardedBatches.batch(42, events());
    assertThat(ForwardedBatches.isBatch(b)).isTrue();
    assertThat(ForwardedBatches.isAnswer(b)).isFalse();
    ForwardedBatches.Batch back = ForwardedBatches.readBatch(b, 3);
    assertThat(back.id()).isEqualTo(42);
    assertThat(back.events()).isEqualTo(events());
    assertThat(back.events().get(1).maskedTail()).isNull();
    assertThat(back.events().get(2).maskedTail()).isEmpty();
  }

  @Test
  void shouldRefuseABatchCutShortLongerThanItsEventsOrOverTheEventLimit() {
    Buffer b = ForwardedBatches.batch(1, events());
    for (int cut = 0; cut < b.length(); cut++) {
      Buffer shorter = b.getBuffer(0, cut);
      assertThatThrownBy(() -> ForwardedBatches.readBatch(shorter, 100))
          .as("cut at " + cut)
          .isInstanceOf(IllegalArgumentException.class);
    }
    Buffer longer = b.copy().appendByte((byte) 0);
    assertThatThrownBy(() -> ForwardedBatches.readBatch(longer, 100))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ForwardedBatches.readBatch(b, 2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("3 events");
    Buffer otherVersion = b.copy();
    otherVersion.setByte(1, (byte) (CommitFrames.VERSION + 1));
    assertThatThrownBy(() -> ForwardedBatches.readBatch(otherVersion, 100))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void shouldAnswerEachEventsSeqAndDuplicateInRequestOrder() {
    List<AppendResult> results =
        List.of(
            new AppendResult("m-1", "e-1", 7, false, "{}"),
            new AppendResult("merchant.two:x", "e-\u00e9", 1, true, null),
            new AppendResult("m-1", "e-3", 8, false, "{}"));
    Buffer a = ForwardedBatches.committed(42, results);
    assertThat(ForwardedBatches.isAnswer(a)).isTrue();
    ForwardedBatches.Answer back = ForwardedBatches.readAnswer(a);
    assertThat(back.id()).isEqualTo(42);
    assertThat(back.outcome()).isEqualTo(Outcome.COMMITTED);
    List<AppendResult> rendered = back.results(events());
    assertThat(rendered)
        .extracting(AppendResult::merchantId, AppendResult::eventId, AppendResult::seq)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("m-1", "e-1", 7L),
            org.assertj.core.groups.Tuple.tuple("merchant.two:x", "e-\u00e9", 1L),
            org.assertj.core.groups.Tuple.tuple("m-1", "e-3", 8L));
    assertThat(rendered).extracting(AppendResult::duplicate).containsExactly(false, true, false);
    assertThatThrownBy(() -> back.results(events().subList(0, 2)))
        .as("an answer for another number of events is not taken")
        .isInstanceOf(IllegalStateException.class);
    for (int cut = 0; cut < a.length(); cut++) {
      Buffer shorter = a.getBuffer(0, cut);
      assertThatThrownBy(() -> ForwardedBatches.readAnswer(shorter))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void shouldCarryWhyABatchWasNotCommitted() {
    for (Outcome o : List.of(Outcome.OVERLOADED, Outcome.TIMED_OUT, Outcome.FAILED)) {
      ForwardedBatches.Answer back =
          ForwardedBatches.readAnswer(ForwardedBatches.refused(9, o, "queue full"));
      assertThat(back.id()).isEqualTo(9);
      assertThat(back.outcome()).isEqualTo(o);
      assertThat(back.message()).isEqualTo("queue full");
      assertThatThrownBy(() -> back.results(events())).isInstanceOf(IllegalStateException.class);
    }
    assertThatThrownBy(() -> ForwardedBatches.refused(9, Outcome.COMMITTED, "x"))
        .isInstanceOf(IllegalArgumentException.class);
    Buffer unknown = ForwardedBatches.refused(9, Outcome.FAILED, "");
    unknown.setByte(10, (byte) 9);
    assertThatThrownBy(() -> ForwardedBatches.readAnswer(unknown))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
