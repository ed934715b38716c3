package io.orderpush.drill;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class VerifierTest {

  private final Population population = Population.doubleEleven(0.00001, 1, 5);
  private final Verifier verifier = new Verifier("test", population);
  private final Population.Merchant tail = population.merchant("drill-t000001");

  /** Delivers the merchant's whole population in seq order, except what {@code skip} says. */
  private void deliverAll(Verifier.MerchantState m, long skipSeq) {
    long seq = 0;
    for (int o = 0; o < m.merchant.orders(); o++) {
      for (String type : population.lifecycle(m.merchant.index(), o)) {
        seq++;
        if (seq != skipSeq) {
          verifier.event(
              m, seq, Population.orderId(m.merchant.id(), o), type, "2026-11-24T10:00:00.000Z", 0);
        }
      }
    }
  }

  @Test
  void aCompleteInOrderDeliveryPasses() {
    for (Population.Merchant m : population.merchants()) {
      deliverAll(verifier.merchant(m.id()), -1);
    }
    Verifier.Outcome o = verifier.outcome();

    assertThat(o.passed()).isTrue();
    assertThat(o.applied()).isEqualTo(population.totalEvents());
  }

  @Test
  void aSkippedEventIsAGapAndLost() {
    Verifier.MerchantState m = verifier.merchant(tail.id());
    long last = population.eventsOf(tail.index());
    deliverAll(m, 2);
    Verifier.Outcome o = verifier.outcome();

    assertThat(o.gaps()).isEqualTo(1);
    assertThat(o.lifecycleErrors()).isGreaterThanOrEqualTo(1); // the order's second step is missing
    assertThat(o.passed()).isFalse();
    assertThat(last).isGreaterThan(2);
  }

  @Test
  void aRepeatedEventCountsAsAppliedTwice() {
    Verifier.MerchantState m = verifier.merchant(tail.id());
    String order = Population.orderId(tail.id(), 0);
    assertThat(verifier.event(m, 1, order, Population.CREATED, null, 0)).isTrue();
    assertThat(verifier.event(m, 1, order, Population.CREATED, null, 0)).isFalse();

    assertThat(verifier.outcome().repeats()).isEqualTo(1);
  }

  @Test
  void stepsOfAnOrderOutOfLifeCycleOrderAreErrors() {
    Verifier.MerchantState m = verifier.merchant(tail.id());
    String order = Population.orderId(tail.id(), 0);
    verifier.event(m, 1, order, Population.PAID, null, 0); // paid before created

    assertThat(verifier.outcome().lifecycleErrors()).isEqualTo(1);
  }

  @Test
  void anUndeliveredMerchantIsLostAndAnUnknownOneIsAnError() {
    assertThat(verifier.merchant("not-in-the-population")).isNull();
    Verifier.Outcome o = verifier.outcome();

    assertThat(o.lost()).isEqualTo(population.totalEvents());
    assertThat(o.errors()).isEqualTo(1);
  }

  @Test
  void anOrderLeftHalfWayIsReported() {
    Verifier.MerchantState m = verifier.merchant(tail.id());
    verifier.event(m, 1, Population.orderId(tail.id(), 0), Population.CREATED, null, 0);

    assertThat(verifier.outcome().openOrders()).isEqualTo(1);
  }
}
