package io.orderpush.synthetic;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class ProfileTest {

  @Test
  void rampsFromNormalToOneHundredTimesHoldsAndComesBackDown() {
    Profile p = Profile.fit(1_000_000, 10_000, 3, 25_000, 100, 10, 20, 10, 10);

    assertThat(p.rateAt(5)).isEqualTo(250);
    assertThat(p.rateAt(20)).isCloseTo((250 + 25_000) / 2.0, within(1.0));
    assertThat(p.rateAt(31)).isEqualTo(25_000);
    assertThat(p.rateAt(p.peakEndS() + 5)).isCloseTo((250 + 25_000) / 2.0, within(1.0));
    assertThat(p.rateAt(p.totalS() - 1)).isEqualTo(250);
    assertThat(p.rateAt(p.totalS() + 1)).isZero();
    assertThat(p.phaseAt(31)).isEqualTo("peak");
    assertThat(p.phaseAt(p.totalS() + 1)).isEqualTo("drain");
  }

  @Test
  void offersTheWholePopulationPlusTheSpareRequests() {
    long events = 2_000_000;
    long requests = 20_000;
    Profile p = Profile.fit(events, requests, 5, 25_000, 100, 30, 60, 30, 30);
    double offered = 0;
    for (double t = 0.0005; t < p.totalS(); t += 0.001) {
      offered += p.rateAt(t) * 0.001;
    }
    assertThat(offered / p.eventsPerRequest()).isCloseTo(requests + 5, within(2.0));
    assertThat(p.eventsBy(p.totalS())).isCloseTo(offered, within(p.eventsPerRequest()));
    int[] arrivals = p.arrivalsPerSecond();
    assertThat(java.util.Arrays.stream(arrivals).sum()).isEqualTo(requests + 5);
    assertThat(arrivals[0]).isBetween(2, 3); // 250 events/s at 100 events per request
    assertThat(arrivals[(int) p.peakEndS() - 1]).isEqualTo(250);
  }
}
