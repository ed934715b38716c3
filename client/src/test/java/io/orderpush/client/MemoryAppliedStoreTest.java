package io.orderpush.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MemoryAppliedStoreTest {

  @Test
  void shouldApplyOnlyWhatIsNewAndRecordItOnlyOnSuccess() throws Exception {
    MemoryAppliedStore store = new MemoryAppliedStore();
    List<Long> applied = new ArrayList<>();
    BatchHandler<Void> h = (b, tx) -> b.events().forEach(e -> applied.add(e.seq()));
    assertThat(store.lastApplied("m-1")).isEmpty();
    store.applyOnce(BatchTest.parse("{\"seq\":1},{\"seq\":2}"), h);
    assertThatThrownBy(
            () ->
                store.applyOnce(
                    BatchTest.parse("{\"seq\":3}"),
                    (b, tx) -> {
                      throw new IllegalStateException("boom");
                    }))
        .hasMessage("boom");
    assertThat(store.lastApplied("m-1")).hasValue(2);
    assertThat(store.applyOnce(BatchTest.parse("{\"seq\":2},{\"seq\":3}"), h)).isEqualTo(3);
    assertThat(applied).containsExactly(1L, 2L, 3L);
  }

  @Test
  void shouldMoveOnlyForwardOnSkip() {
    MemoryAppliedStore store = new MemoryAppliedStore();
    store.skipTo("m-1", 10);
    store.skipTo("m-1", 4);
    assertThat(store.lastApplied("m-1")).hasValue(10);
  }
}
