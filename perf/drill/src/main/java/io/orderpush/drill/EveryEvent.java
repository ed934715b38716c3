package io.orderpush.drill;

import io.orderpush.client.AppliedStore;
import io.orderpush.client.Batch;
import io.orderpush.client.BatchHandler;
import java.util.OptionalLong;

/**
 * The drill's "store": it remembers nothing and hands every delivered event to the handler, repeats
 * and gaps included, because the drill's {@link Verifier} is what counts them (an ISV's store would
 * skip a repeat and refuse a gap, hiding from the drill what it is there to find).
 */
final class EveryEvent implements AppliedStore<Void> {

  static final EveryEvent STORE = new EveryEvent();

  private EveryEvent() {}

  @Override
  public OptionalLong lastApplied(String merchantId) {
    return OptionalLong.empty();
  }

  @Override
  public long applyOnce(Batch batch, BatchHandler<Void> handler) throws Exception {
    handler.handle(batch, null);
    return batch.lastSeq();
  }

  @Override
  public void skipTo(String merchantId, long seq) {}
}
