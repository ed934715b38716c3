package io.orderpush.delivery.channel;

import io.orderpush.persistence.events.LoggedEvent;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The most recent committed events of the merchants this node delivers, so that channels that are
 * caught up get new events without reading them back from PostgreSQL. Only a contiguous run ending
 * at the newest event is kept per merchant; anything out of order empties that merchant's run
 * (reads then go to the log, which is always right). Bounded per merchant and in total. Engine
 * context only.
 */
final class TailCache {

  static final int PER_MERCHANT = 2048;
  static final int TOTAL = 200_000;

  private final int perMerchant;
  private final int total;
  private final Map<String, ArrayDeque<LoggedEvent>> runs = new HashMap<>();
  private int size;

  TailCache(int perMerchant, int total) {
    this.perMerchant = perMerchant;
    this.total = total;
  }

  void append(String merchantId, List<LoggedEvent> events) {
    ArrayDeque<LoggedEvent> run = runs.computeIfAbsent(merchantId, m -> new ArrayDeque<>());
    for (LoggedEvent e : events) {
      if (!run.isEmpty() && e.seq() != run.peekLast().seq() + 1) {
        size -= run.size();
        run.clear();
      }
      run.addLast(e);
      size++;
      if (run.size() > perMerchant) {
        run.pollFirst();
        size--;
      }
    }
    if (size > total) {
      // Rare, and always safe: every read can go to the log.
      runs.clear();
      size = 0;
    }
  }

  /**
   * Up to {@code limit} events from {@code fromSeq} on, or null if the run does not hold fromSeq.
   */
  List<LoggedEvent> get(String merchantId, long fromSeq, int limit) {
    ArrayDeque<LoggedEvent> run = runs.get(merchantId);
    if (run == null
        || run.isEmpty()
        || fromSeq < run.peekFirst().seq()
        || fromSeq > run.peekLast().seq()) {
      return null;
    }
    // Caught-up channels want the last few events: walk back from the newest to fromSeq.
    int wanted = (int) (run.peekLast().seq() - fromSeq + 1);
    LoggedEvent[] tail = new LoggedEvent[wanted];
    Iterator<LoggedEvent> it = run.descendingIterator();
    for (int i = wanted - 1; i >= 0; i--) {
      tail[i] = it.next();
    }
    List<LoggedEvent> out = List.of(tail);
    out = out.size() > limit ? out.subList(0, limit) : out;
    return out;
  }

  void forget(String merchantId) {
    ArrayDeque<LoggedEvent> run = runs.remove(merchantId);
    if (run != null) {
      size -= run.size();
    }
  }
}
