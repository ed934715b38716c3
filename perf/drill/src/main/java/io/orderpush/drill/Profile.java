package io.orderpush.drill;

/**
 * The drill's open injection profile, in events per second over time: a normal rate, a ramp to
 * the peak (the normal rate times the multiplier, 100 by default), a hold at the peak, a ramp back
 * down, and a tail at the normal rate. The hold lasts as long as it takes to offer the whole
 * population (plus a small margin, so the load generator never runs dry before the last order;
 * arrivals after it send nothing).
 */
public record Profile(double normalRate, double peakRate, double normalS, double rampUpS, double holdS, double rampDownS,
    double tailS) {

  /** Extra hold time, as a share of the population, so rounding in Gatling's arrivals cannot leave orders unsent. */
  static final double MARGIN = 0.03;

  public static Profile fit(long totalEvents, double peakRate, double multiplier, double normalS, double rampUpS,
      double rampDownS, double tailS) {
    if (!(peakRate > 0) || !(multiplier >= 1)) {
      throw new IllegalArgumentException("peak rate must be > 0 and the multiplier >= 1");
    }
    double normal = peakRate / multiplier;
    double outside = normal * (normalS + tailS) + (normal + peakRate) / 2 * (rampUpS + rampDownS);
    double hold = Math.max(1, (totalEvents * (1 + MARGIN) - outside) / peakRate);
    return new Profile(normal, peakRate, normalS, rampUpS, Math.ceil(hold), rampDownS, tailS);
  }

  public double totalS() {
    return normalS + rampUpS + holdS + rampDownS + tailS;
  }

  /** When the hold at the peak ends (the ramp down starts), seconds from the start. */
  public double peakEndS() {
    return normalS + rampUpS + holdS;
  }

  /** The phase at {@code t} seconds from the start. */
  public String phaseAt(double t) {
    if (t < normalS) {
      return "normal";
    }
    if (t < normalS + rampUpS) {
      return "ramp-up";
    }
    if (t < peakEndS()) {
      return "peak";
    }
    if (t < peakEndS() + rampDownS) {
      return "ramp-down";
    }
    return t < totalS() ? "tail" : "drain";
  }

  /** The offered rate at {@code t}, events per second. */
  public double rateAt(double t) {
    if (t < normalS) {
      return normalRate;
    }
    if (t < normalS + rampUpS) {
      return normalRate + (peakRate - normalRate) * (t - normalS) / rampUpS;
    }
    if (t < peakEndS()) {
      return peakRate;
    }
    if (t < peakEndS() + rampDownS) {
      return peakRate - (peakRate - normalRate) * (t - peakEndS()) / rampDownS;
    }
    return t < totalS() ? normalRate : 0;
  }
}
