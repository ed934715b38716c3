package io.orderpush.delivery.channel;

import io.orderpush.persistence.events.LoggedEvent;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The most recent committed events of the merchants this node delivers, so that channels that are
 * caught up get new events without reading them back from PostgreSQL. Only a contiguous run ending
 * at the newest event is kept per merchant; anything out of order empties that merchant's run
 * (reads then go to the log, which is always right).
 *
 * <p>Bounded per merchant in events and in total in bytes: events carry up to 64 KiB of data, so a
 * count bound alone could hold gigabytes. Past the byte bound, the oldest events of the merchants
 * that were neither appended to nor read for longest go first. Engine context only.
 */
final class TailCache {

  static final int PER_MERCHANT = 2048;

  /** Java object headers and references around each cached event's text. */
  static final int OVERHEAD_BYTES = 64;

  private final int perMerchant;
  private final long maxBytes;

  /**
   * In access order (appends, reads and acks that drop): the first is the merchant touched least
   * recently. A get moves an entry to the end in place: one lookup, where removing and putting it
   * again took two.
   */
  private final LinkedHashMap<String, ArrayDeque<LoggedEvent>> runs =
      new LinkedHashMap<>(16, 0.75f, true);

  // Written on the engine's context only; volatile for the metrics scrape.
  private volatile long bytes;
  private volatile long events;

  TailCache(int perMerchant, long maxBytes) {
    this.perMerchant = perMerchant;
    this.maxBytes = maxBytes;
  }

  /**
   * What an event costs here, at most: its text and its masked text as two bytes a character (CJK
   * text is not Latin-1, so Java stores it as UTF-16), plus the objects around it.
   */
  static long cost(LoggedEvent e) {
    return 2L * (e.json().length() + (e.maskedJson() == null ? 0 : e.maskedJson().length()))
        + OVERHEAD_BYTES;
  }

  void append(String merchantId, List<LoggedEvent> added) {
    ArrayDeque<LoggedEvent> run = runs.get(merchantId); // now last: newest
    if (run == null) {
      run = new ArrayDeque<>();
      runs.put(merchantId, run);
    }
    for (LoggedEvent e : added) {
      if (!run.isEmpty() && e.seq() != run.peekLast().seq() + 1) {
        clear(run);
      }
      run.addLast(e);
      bytes += cost(e);
      events++;
      if (run.size() > perMerchant) {
        removeFirst(run);
      }
    }
    evict();
  }

  /** Oldest events first, of the merchant touched least recently. */
  private void evict() {
    Iterator<ArrayDeque<LoggedEvent>> eldest = runs.values().iterator();
    while (bytes > maxBytes && eldest.hasNext()) {
      ArrayDeque<LoggedEvent> run = eldest.next();
      while (bytes > maxBytes && !run.isEmpty()) {
        removeFirst(run);
      }
      if (run.isEmpty()) {
        eldest.remove();
      }
    }
  }

  private void removeFirst(ArrayDeque<LoggedEvent> run) {
    LoggedEvent gone = run.pollFirst();
    bytes -= cost(gone);
    events--;
  }

  private void clear(ArrayDeque<LoggedEvent> run) {
    for (LoggedEvent e : run) {
      bytes -= cost(e);
    }
    events -= run.size();
    run.clear();
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
    return out.size() > limit ? out.subList(0, limit) : out;
  }

  /**
   * Drops the merchant's events up to and including {@code seq}: what every channel delivered here
   * has acked is never read from here again, and the sooner it goes, the less the collector copies.
   * A channel that needs it after all (a cursor moved back) reads the log.
   */
  void dropThrough(String merchantId, long seq) {
    ArrayDeque<LoggedEvent> run = runs.get(merchantId);
    if (run == null) {
      return;
    }
    while (!run.isEmpty() && run.peekFirst().seq() <= seq) {
      removeFirst(run);
    }
    if (run.isEmpty()) {
      runs.remove(merchantId); // an empty run is no run, and its array does not shrink
    }
  }

  void forget(String merchantId) {
    ArrayDeque<LoggedEvent> run = runs.remove(merchantId);
    if (run != null) {
      clear(run);
    }
  }

  /** Bytes held, as estimated by {@link #cost}. */
  long bytes() {
    return bytes;
  }

  long events() {
    return events;
  }
}
