package io.orderpush.synthetic;

/**
 * The drill's open injection profile, in events per second over time: a normal rate, a ramp to the
 * peak (the normal rate times the multiplier, 100 by default), a hold at the peak, a ramp back
 * down, and a tail at the normal rate. The hold lasts as long as it takes to offer the whole
 * population (plus a few spare arrivals, which send nothing).
 */
public record Profile(
    double normalRate,
    double peakRate,
    double eventsPerRequest,
    double normalS,
    double rampUpS,
    double holdS,
    double rampDownS,
    double tailS) {

  /**
   * Fits the hold to a population of {@code totalEvents} events sent in {@code requests} requests:
   * the profile offers every request, plus {@code spareRequests} more (they arrive after the
   * population is exhausted and send nothing; they absorb the rounding of Gatling's arrival counts,
   * so the last orders are never left unsent).
   */
  public static Profile fit(
      long totalEvents,
      long requests,
      double spareRequests,
      double peakRate,
      double multiplier,
      double normalS,
      double rampUpS,
      double rampDownS,
      double tailS) {
    if (!(peakRate > 0) || !(multiplier >= 1) || requests < 1) {
      throw new IllegalArgumentException(
          "peak rate must be > 0, the multiplier >= 1, and there must be requests");
    }
    double perRequest = totalEvents / (double) requests;
    double normal = peakRate / multiplier;
    double outside = normal * (normalS + tailS) + (normal + peakRate) / 2 * (rampUpS + rampDownS);
    double offered = (requests + spareRequests) * perRequest;
    double hold = Math.max(1, (offered - outside) / peakRate);
    return new Profile(normal, peakRate, perRequest, normalS, rampUpS, hold, rampDownS, tailS);
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

  /** Events offered from the start until {@code t} (the integral of {@link #rateAt}). */
  public double eventsBy(double t) {
    double[] ends = {normalS, normalS + rampUpS, peakEndS(), peakEndS() + rampDownS, totalS()};
    double sum = 0;
    double from = 0;
    for (double end : ends) {
      double to = Math.min(t, end);
      if (to > from) {
        sum +=
            (rateAt(from) + rateAt(to - 1e-9))
                / 2
                * (to - from); // linear within a phase: trapezoid is exact
      }
      from = end;
    }
    return sum;
  }

  /**
   * Requests (arrivals) to inject in each second of the profile: whole numbers whose running sum
   * follows {@link #eventsBy} to within one request, so the total is exact (Gatling's injection
   * steps would round fractional arrival rates on their own).
   */
  public int[] arrivalsPerSecond() {
    int seconds = (int) Math.ceil(totalS());
    int[] out = new int[seconds];
    long before = 0;
    for (int i = 0; i < seconds; i++) {
      long by = Math.round(eventsBy(Math.min(totalS(), i + 1)) / eventsPerRequest);
      out[i] = (int) (by - before);
      before = by;
    }
    return out;
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
