package io.orderpush.delivery.channel;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Orders what this node learns of grants by when it read them. A resync reads an app's grants page
 * by page, a notice looks one grant up, a grant or revoke through this node's API writes one: each
 * answer says what PostgreSQL held when its read started (a write's, when it committed), and
 * answers land in any order. Without this, a resync that read a grant just before a revoke, and
 * finished after the revoke was applied here, put the revoked channel back and delivered it until
 * the next resync.
 *
 * <p>Each read takes a mark ({@link #start}), later reads larger ones. What a read says of (app,
 * merchant) is applied only if no read with a later mark was applied to it ({@link #apply}); then
 * its own mark is recorded. Marks are kept only while reads are open: once none is, every later
 * read is newer than all of them. Thread-safe (reads start on request threads, apply on the
 * engine).
 */
public final class GrantReads {

  private long clock;
  private final Set<Long> open = new HashSet<>();
  private final Map<String, Long> applied = new HashMap<>();

  /**
   * (app, merchant) and the mark of the read last refused for it: counted once, not per transport.
   */
  private final Map<String, Long> refused = new HashMap<>();

  private long superseded;

  /**
   * A read starts now: its mark. A write whose result will be applied takes its mark once it has
   * committed (a read started before the commit may hold the row as it was).
   */
  public synchronized long start() {
    long mark = ++clock;
    open.add(mark);
    return mark;
  }

  /**
   * Whether what the read of {@code mark} says of (app, merchant) may be applied: no read that
   * started after it was applied to it. If so, it is recorded as applied.
   */
  public synchronized boolean apply(UUID appId, String merchantId, long mark) {
    String key = appId + "/" + merchantId;
    Long last = applied.get(key);
    if (last != null && last > mark) {
      Long before = refused.put(key, mark);
      if (before == null || before != mark) {
        superseded++; // the WebSocket and callback sides ask about the same read once each
      }
      return false;
    }
    if (!open.isEmpty()) {
      applied.put(key, mark);
    }
    return true;
  }

  /** The read of {@code mark} is over, applied or not. Calling it twice does nothing more. */
  public synchronized void end(long mark) {
    if (open.remove(mark) && open.isEmpty()) {
      applied.clear();
      refused.clear();
    }
  }

  /**
   * Answers not applied because a later read had been, each counted once however many transports
   * asked: for the metrics.
   */
  public synchronized long superseded() {
    return superseded;
  }
}
