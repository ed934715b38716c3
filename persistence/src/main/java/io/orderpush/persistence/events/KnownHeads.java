package io.orderpush.persistence.events;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The merchants' heads a committer can vouch for, at most {@code capacity} of them: the least
 * recently used goes first. A merchant missing here costs its next group the locking way (it reads
 * the head under the row lock), never a wrong seq; without the bound, a writer kept one entry for
 * every merchant it ever wrote, drills' sandbox merchants included.
 */
final class KnownHeads extends LinkedHashMap<String, Long> {

  /** About 25 MB of heads; the merchants writing now fit many times over. */
  static final int CAPACITY = 262_144;

  private final int capacity;
  private final Runnable evicted;

  KnownHeads(int capacity, Runnable evicted) {
    super(1024, 0.75f, true); // access order: a merchant that writes stays
    this.capacity = capacity;
    this.evicted = evicted;
  }

  @Override
  protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
    if (size() <= capacity) {
      return false;
    }
    evicted.run();
    return true;
  }
}
