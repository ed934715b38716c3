package io.orderpush.gateway.drill;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One phase of a drill summed up: what was offered and acked, the largest lag, and the
 * commit-to-ack latency of the sandbox events and of the app's real channels.
 *
 * @param seconds how many seconds of the drill were in this phase
 * @param sandbox commit-to-ack latency of the drill's events acked in this phase
 * @param real commit-to-ack latency of the app's real channels' events acked in this phase
 */
public record PhaseFigures(
    String phase,
    int seconds,
    long offered,
    long acked,
    long maxLag,
    LatencyBuckets sandbox,
    LatencyBuckets real) {

  /** The profile's phases in the order they run; a drill may skip some (stopped early). */
  public static final List<String> ORDER =
      List.of("normal", "ramp-up", "peak", "ramp-down", "tail", "drain");

  public double offeredRate() {
    return seconds == 0 ? 0 : offered / (double) seconds;
  }

  public double ackedRate() {
    return seconds == 0 ? 0 : acked / (double) seconds;
  }

  /** The phases present in {@code seconds}, in profile order (unknown names last). */
  static List<PhaseFigures> of(List<DrillSecond> seconds, long[] lag) {
    Map<String, Builder> byPhase = new LinkedHashMap<>();
    ORDER.forEach(p -> byPhase.put(p, new Builder(p)));
    for (int i = 0; i < seconds.size(); i++) {
      DrillSecond s = seconds.get(i);
      byPhase.computeIfAbsent(s.phase(), Builder::new).add(s, lag[i]);
    }
    List<PhaseFigures> out = new ArrayList<>();
    for (Builder b : byPhase.values()) {
      if (b.seconds > 0) {
        out.add(b.build());
      }
    }
    return out;
  }

  private static final class Builder {
    private final String phase;
    private final LatencyBuckets sandbox = new LatencyBuckets();
    private final LatencyBuckets real = new LatencyBuckets();
    private int seconds;
    private long offered;
    private long acked;
    private long maxLag;

    Builder(String phase) {
      this.phase = phase;
    }

    void add(DrillSecond s, long lag) {
      seconds++;
      offered += s.offered();
      acked += s.acked();
      maxLag = Math.max(maxLag, lag);
      sandbox.add(s.sandboxLatency());
      real.add(s.realLatency());
    }

    PhaseFigures build() {
      return new PhaseFigures(phase, seconds, offered, acked, maxLag, sandbox, real);
    }
  }
}
