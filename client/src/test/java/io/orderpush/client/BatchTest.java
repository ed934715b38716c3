package io.orderpush.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.orderpush.client.impl.Json;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class BatchTest {

  static Batch parse(String events) {
    return Json.batch(Json.tree("{\"merchantId\":\"m-1\",\"events\":[" + events + "]}"));
  }

  static List<Long> seqs(Batch b) {
    return b.events().stream().map(Event::seq).collect(Collectors.toList());
  }

  @Test
  void shouldFallBackToSeqMinusOneWithoutPrevSeq() {
    Batch b = parse("{\"seq\":7},{\"seq\":8,\"prevSeq\":5}");
    assertThat(b.events().get(0).prevSeq()).isEqualTo(6);
    assertThat(b.events().get(1).prevSeq()).isEqualTo(5);
  }

  @Test
  void shouldDropEventsAtOrBelowTheLastApplied() {
    Batch b = parse("{\"seq\":4},{\"seq\":5},{\"seq\":6}");
    assertThat(seqs(b.after(5, true))).containsExactly(6L);
    assertThat(b.after(6, true).events()).isEmpty();
    assertThat(b.after(3, true)).isSameAs(b);
  }

  @Test
  void shouldTakeTheFirstEventAsTheStartWhenNothingWasApplied() {
    Batch b = parse("{\"seq\":40},{\"seq\":41}");
    assertThat(seqs(b.after(0, false))).containsExactly(40L, 41L);
  }

  @Test
  void shouldAcceptFilteredGapsThatPrevSeqVouchesFor() {
    Batch b = parse("{\"seq\":9,\"prevSeq\":5},{\"seq\":12,\"prevSeq\":9}");
    assertThat(seqs(b.after(5, true))).containsExactly(9L, 12L);
  }

  @Test
  void shouldReportAGapWhenPrevSeqIsAboveTheLastApplied() {
    Batch b = parse("{\"seq\":9,\"prevSeq\":7}");
    assertThatThrownBy(() -> b.after(5, true))
        .isInstanceOfSatisfying(
            GapException.class,
            g -> {
              assertThat(g.lastApplied()).isEqualTo(5);
              assertThat(g.seq()).isEqualTo(9);
              assertThat(g.prevSeq()).isEqualTo(7);
              assertThat(g.getMessage()).contains("events 6..7 missing");
            });
  }

  @Test
  void shouldReportAGapInsideABatch() {
    Batch b = parse("{\"seq\":6},{\"seq\":8}");
    assertThatThrownBy(() -> b.after(5, true)).isInstanceOf(GapException.class);
  }

  @Test
  void shouldRefuseABatchWhoseSeqsDoNotRise() {
    assertThatThrownBy(() -> parse("{\"seq\":6},{\"seq\":6}"))
        .isInstanceOf(OrderPushException.class)
        .hasMessageContaining("seq 6 after 6");
  }
}
