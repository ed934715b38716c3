package io.orderpush.client;

import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * An {@link AppliedStore} in memory, for tests and for handlers whose work is idempotent anyway.
 * Lost with the process: after a restart every event since the cursor is applied again. The
 * handler's transaction context is {@code null}.
 */
public final class MemoryAppliedStore implements AppliedStore<Void> {

  private static final class Slot {
    boolean known;
    long last;
  }

  private final ConcurrentMap<String, Slot> slots = new ConcurrentHashMap<>();

  @Override
  public OptionalLong lastApplied(String merchantId) {
    Slot s = slots.get(merchantId);
    if (s == null) {
      return OptionalLong.empty();
    }
    synchronized (s) {
      return s.known ? OptionalLong.of(s.last) : OptionalLong.empty();
    }
  }

  @Override
  public long applyOnce(Batch batch, BatchHandler<Void> handler) throws Exception {
    Slot s = slots.computeIfAbsent(batch.merchantId(), k -> new Slot());
    synchronized (s) {
      Batch fresh = batch.after(s.last, s.known);
      if (!fresh.events().isEmpty()) {
        handler.handle(fresh, null);
        s.last = fresh.lastSeq();
        s.known = true;
      }
      return s.last;
    }
  }

  @Override
  public void skipTo(String merchantId, long seq) {
    Slot s = slots.computeIfAbsent(merchantId, k -> new Slot());
    synchronized (s) {
      if (!s.known || seq > s.last) {
        s.last = seq;
        s.known = true;
      }
    }
  }
}
