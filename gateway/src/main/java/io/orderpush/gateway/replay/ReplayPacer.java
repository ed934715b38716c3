package io.orderpush.gateway.replay;

/**
 * Paces all replays of this node to at most {@code maxPerSecond} events a second together, so that
 * replaying millions of events takes a bounded share of the machine and live delivery to every
 * other app stays flat. A replay takes what a page needs; when the node is over its rate, the page
 * waits for the time the excess takes to earn back. Thread-safe.
 */
final class ReplayPacer {

  private final double perMilli;
  private final double burst;
  private double balance;
  private long last = System.nanoTime();

  /**
   * @param maxPerSecond events a second for all replays of the node together; 0: unpaced
   */
  ReplayPacer(long maxPerSecond) {
    this.perMilli = maxPerSecond / 1000.0;
    this.burst = maxPerSecond; // at most a second's worth saved up
    this.balance = burst;
  }

  /** Takes {@code events}; answers how many milliseconds to wait before sending them (0: now). */
  synchronized long take(int events) {
    if (perMilli == 0) {
      return 0;
    }
    long now = System.nanoTime();
    balance = Math.min(burst, balance + (now - last) / 1_000_000.0 * perMilli);
    last = now;
    balance -= events;
    return balance >= 0 ? 0 : (long) Math.ceil(-balance / perMilli);
  }
}
