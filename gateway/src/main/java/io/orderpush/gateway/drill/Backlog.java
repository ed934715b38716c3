package io.orderpush.gateway.drill;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.stream.IntStream;

/**
 * What the app's backlog of sandbox events says about its capacity.
 *
 * <p>The lag after each second is the running sum of offered minus acked, never below 0. A second
 * "has a backlog" when the lag at both its start and its end is above {@link #threshold}: about two
 * seconds' worth of the target rate, so the events an app holds in flight while keeping up never
 * count. An app with no such second that also drains after the profile kept up, and its capacity is
 * at least the highest rate offered for {@link #HELD_S} seconds. Otherwise its capacity is the
 * median acked rate over the seconds with a backlog: while work waits, the app acks as fast as it
 * can, whatever the drill offers; the median ignores the odd slow or fast second. The first {@link
 * #WARM_UP_S} such seconds are left out: the backlog is still filling the app's pipeline.
 *
 * @param lag events waiting after each second (index = position in the drill's seconds)
 * @param keptUp whether the backlog stayed bounded and drained; {@code capacity} is then a floor
 * @param capacity events/s: measured, or (kept up) the highest rate held for {@link #HELD_S} s
 * @param fallsBehindAbove the lowest target rate at which the backlog started to grow persistently
 * @param measuredSeconds how many seconds the capacity is the median of (0 when kept up)
 * @param maxLagIndex the second with the largest lag, or -1 when there are none
 * @param lastOfferedIndex the profile's last second with an offered event, or -1
 * @param drainS seconds from the end of the last offered second until the lag was back to ~0
 */
record Backlog(
    long[] lag,
    boolean keptUp,
    double capacity,
    OptionalDouble fallsBehindAbove,
    int measuredSeconds,
    int maxLagIndex,
    int lastOfferedIndex,
    OptionalInt drainS) {

  /** Below this lag a backlog never counts: in-flight events of a slow normal rate. */
  static final long FLOOR_EVENTS = 50;

  /** A backlog is more than this many seconds' worth of the target rate. */
  static final double BOUND_S = 2;

  static final int WARM_UP_S = 2;
  static final int HELD_S = 3;

  /** "Drained": at most this many events still waiting (late acks of the last batches). */
  static final long DRAINED_EVENTS = 10;

  /** A bounded backlog must drain within this many seconds after the profile for "kept up". */
  static final int KEPT_UP_DRAIN_S = 5;

  /**
   * An app is caught up while its lag is at most this share of the target rate (or one event)
   * beyond what its latency holds at that rate.
   */
  static final double CAUGHT_UP_SHARE = 0.01;

  static Backlog of(List<DrillSecond> seconds) {
    int n = seconds.size();
    long[] lag = new long[n];
    long waiting = 0;
    int maxLagIndex = -1;
    int lastOffered = -1;
    for (int i = 0; i < n; i++) {
      DrillSecond s = seconds.get(i);
      waiting = Math.max(0, waiting + s.offered() - s.acked());
      lag[i] = waiting;
      if (maxLagIndex < 0 || waiting > lag[maxLagIndex]) {
        maxLagIndex = i;
      }
      if (s.offered() > 0) {
        lastOffered = i;
      }
    }
    OptionalInt drainS = drainS(seconds, lag, lastOffered);
    List<Integer> backlog = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long limit = threshold(seconds, i);
      if (start(lag, i) > limit && lag[i] > limit) {
        backlog.add(i);
      }
    }
    boolean tooLateToJudge = lastOffered + KEPT_UP_DRAIN_S >= n - 1;
    boolean drainedInTime = drainS.isPresent() && drainS.getAsInt() <= KEPT_UP_DRAIN_S;
    if (backlog.isEmpty() && (drainedInTime || tooLateToJudge)) {
      return new Backlog(
          lag,
          true,
          heldRate(seconds),
          OptionalDouble.empty(),
          0,
          maxLagIndex,
          lastOffered,
          drainS);
    }
    List<Integer> measured = measured(seconds, lag, backlog, lastOffered);
    double capacity = median(measured.stream().mapToDouble(i -> seconds.get(i).acked()).toArray());
    int onset = backlog.isEmpty() ? maxLagIndex : backlog.get(0);
    // Seen from the backlog, the onset lags behind a steep ramp; an app cannot keep up with a
    // rate above what it sustains, so the capacity bounds the figure (when it was measured).
    OptionalDouble behind = fallsBehindAbove(seconds, lag, onset);
    if (behind.isPresent() && capacity > 0 && behind.getAsDouble() > capacity) {
      behind = OptionalDouble.of(capacity);
    }
    return new Backlog(
        lag, false, capacity, behind, measured.size(), maxLagIndex, lastOffered, drainS);
  }

  long maxLag() {
    return maxLagIndex < 0 ? 0 : lag[maxLagIndex];
  }

  /** The app acked nothing while a backlog waited. */
  boolean stalled() {
    return !keptUp && capacity == 0;
  }

  /** The lag above which second {@code i} counts as holding a backlog. */
  static long threshold(List<DrillSecond> seconds, int i) {
    double target = seconds.get(i).target();
    if (i > 0) {
      target = Math.max(target, seconds.get(i - 1).target()); // the lag at the start is older
    }
    return Math.max(FLOOR_EVENTS, (long) Math.ceil(BOUND_S * target));
  }

  private static long start(long[] lag, int i) {
    return i == 0 ? 0 : lag[i - 1];
  }

  /**
   * The seconds the capacity is measured over: those with a backlog after the warm-up. An app whose
   * backlog never passed the threshold but did not drain is measured over its drain instead (a very
   * slow app under a small drill's floor).
   */
  private static List<Integer> measured(
      List<DrillSecond> seconds, long[] lag, List<Integer> backlog, int lastOffered) {
    if (backlog.size() > WARM_UP_S) {
      return backlog.subList(WARM_UP_S, backlog.size());
    }
    if (!backlog.isEmpty()) {
      return backlog;
    }
    List<Integer> draining = new ArrayList<>();
    for (int i = lastOffered + 1; i < seconds.size(); i++) {
      if (start(lag, i) > DRAINED_EVENTS) {
        draining.add(i);
      }
    }
    return draining;
  }

  /** The highest offered rate the drill held for {@link #HELD_S} seconds in a row. */
  private static double heldRate(List<DrillSecond> seconds) {
    long best = 0;
    for (int i = 0; i + HELD_S <= seconds.size(); i++) {
      long low = Long.MAX_VALUE;
      for (int j = i; j < i + HELD_S; j++) {
        low = Math.min(low, seconds.get(j).offered());
      }
      best = Math.max(best, low);
    }
    return best;
  }

  /**
   * The target rate that the app first fell short of: the second after the last one, before the
   * backlog, in which it was caught up, less its latency. An app that keeps up holds about its
   * latency's worth of the target rate, which grows while the rate ramps; so "caught up" means a
   * lag no higher than that level, the latency being the median ratio of lag to target rate before
   * the backlog (half the seconds of an app that keeps up are at or below it; one that falls behind
   * never returns to it).
   */
  private static OptionalDouble fallsBehindAbove(List<DrillSecond> seconds, long[] lag, int onset) {
    if (onset < 0) {
      return OptionalDouble.empty();
    }
    double latencyS =
        median(
            IntStream.range(0, onset)
                .filter(i -> seconds.get(i).target() > 0)
                .mapToDouble(i -> lag[i] / seconds.get(i).target())
                .toArray());
    int g = onset;
    while (g > 0 && !caughtUp(seconds.get(g - 1), lag[g - 1], latencyS)) {
      g--;
    }
    // The first second the app fell short acks what was offered its latency earlier.
    double target = seconds.get(Math.max(0, g - (int) Math.round(latencyS))).target();
    return target > 0 ? OptionalDouble.of(target) : OptionalDouble.empty();
  }

  private static boolean caughtUp(DrillSecond s, long lag, double latencyS) {
    double beyond = lag - latencyS * s.target();
    return beyond <= Math.max(1, CAUGHT_UP_SHARE * s.target());
  }

  private static OptionalInt drainS(List<DrillSecond> seconds, long[] lag, int lastOffered) {
    if (lastOffered < 0) {
      return OptionalInt.of(0);
    }
    for (int i = lastOffered; i < lag.length; i++) {
      if (lag[i] <= DRAINED_EVENTS) {
        return OptionalInt.of(seconds.get(i).t() - seconds.get(lastOffered).t());
      }
    }
    return OptionalInt.empty();
  }

  private static double median(double[] values) {
    if (values.length == 0) {
      return 0;
    }
    double[] v = values.clone();
    Arrays.sort(v);
    int mid = v.length / 2;
    return v.length % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2.0;
  }
}
