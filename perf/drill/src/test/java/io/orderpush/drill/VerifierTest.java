package io.orderpush.drill;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.synthetic.Population;
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

  // ---- moves: redelivery above the acked cursor at a hand-over, and what is not

  private final Population.Merchant giant = population.merchants().get(0);

  /** Delivers the giant's seqs {@code from..to} on {@code stream}, arriving at {@code atMillis}. */
  private void deliver(Verifier v, long from, long to, long stream, long atMillis) {
    deliver(v, from, to, stream, atMillis, true);
  }

  /** {@link #deliver}, handed over before ({@code afterRevoke} false) or after an unassign. */
  private void deliver(
      Verifier v, long from, long to, long stream, long atMillis, boolean afterRevoke) {
    Verifier.MerchantState m = v.merchant(giant.id());
    long seq = 0;
    for (int o = 0; o < giant.orders(); o++) {
      for (String type : population.lifecycle(giant.index(), o)) {
        seq++;
        if (seq >= from && seq <= to) {
          v.event(
              m,
              seq,
              Population.orderId(giant.id(), o),
              type,
              null,
              atMillis * 1000,
              stream,
              afterRevoke);
        }
      }
    }
  }

  private Verifier moving() {
    Verifier v = new Verifier("moving", population);
    v.movesExpected = true;
    v.ackSettleMs = 2_000;
    return v;
  }

  @Test
  void aRedeliveryAboveTheAckedCursorAtAHandOverIsCountedNotFailed() {
    Verifier v = moving();
    Verifier.MerchantState m = v.merchant(giant.id());
    deliver(v, 1, 10, 1, 1_000);
    v.acked(m, 6, 1_000);
    deliver(v, 7, 10, 2, 5_000); // the new owner starts from cursor 6: 7..10 came already
    deliver(v, 11, 12, 2, 5_000);

    Verifier.Outcome o = v.outcome();
    assertThat(o.redelivered()).isEqualTo(4);
    assertThat(o.repeats()).isZero();
    assertThat(o.handovers()).isEqualTo(1);
    assertThat(o.applied()).isEqualTo(12);
  }

  @Test
  void aRedeliveryAtOrBelowACursorShownAsStoredCountsAsAppliedTwice() {
    Verifier v = moving();
    deliver(v, 1, 10, 1, 1_000);
    v.stored(java.util.Map.of(giant.id(), 8L));
    deliver(v, 7, 10, 2, 5_000); // the gateway had stored 8: the new owner must start at 9

    Verifier.Outcome o = v.outcome();
    assertThat(o.repeats()).isEqualTo(4);
    assertThat(o.redelivered()).isZero();
    assertThat(o.passed()).isFalse();
  }

  @Test
  void storedCursorsNeverMoveBackInTheVerifiersView() {
    Verifier v = moving();
    deliver(v, 1, 10, 1, 1_000);
    v.stored(java.util.Map.of(giant.id(), 8L));
    v.stored(java.util.Map.of(giant.id(), 3L)); // a page read from the checkpoint, behind Redis
    deliver(v, 7, 10, 2, 5_000);

    assertThat(v.outcome().repeats()).isEqualTo(4);
  }

  @Test
  void aRedeliveryAboveTheStoredCursorButBelowASettledAckIsCountedAsAckedNotStored() {
    Verifier v = moving();
    Verifier.MerchantState m = v.merchant(giant.id());
    deliver(v, 1, 10, 1, 1_000);
    v.acked(m, 8, 1_000); // sent 4 s before the move, but its node lost the channel first
    v.stored(java.util.Map.of(giant.id(), 6L));
    deliver(v, 7, 10, 2, 5_000);

    Verifier.Outcome o = v.outcome();
    assertThat(o.repeats()).isZero();
    assertThat(o.redelivered()).isEqualTo(4);
    assertThat(o.ackedNotStored()).isEqualTo(2); // 7 and 8
  }

  @Test
  void anAckTooRecentToBeSureOfDoesNotRaiseTheCursor() {
    Verifier v = moving();
    Verifier.MerchantState m = v.merchant(giant.id());
    deliver(v, 1, 10, 1, 1_000);
    v.acked(m, 8, 4_500); // 0.5 s before the hand-over: its ack may have crossed the move
    deliver(v, 7, 10, 2, 5_000);

    assertThat(v.outcome().repeats()).isZero();
    assertThat(v.outcome().redelivered()).isEqualTo(4);
  }

  @Test
  void aRepeatOnTheSameStreamIsAppliedTwiceEvenWithMoves() {
    Verifier v = moving();
    deliver(v, 1, 10, 1, 1_000);
    deliver(v, 5, 6, 1, 1_100); // no hand-over: the same connection sent them again

    assertThat(v.outcome().repeats()).isEqualTo(2);
  }

  @Test
  void aLateBatchOfAReplacedStreamSentBeforeItsRevokeIsSkippedNotFailed() {
    Verifier v = moving();
    deliver(v, 1, 5, 1, 1_000);
    deliver(v, 6, 8, 2, 1_100); // the new owner went ahead
    // the old connection's batch, read before its `unassigned`, handed over late
    deliver(v, 6, 9, 1, 1_200, false);
    deliver(v, 9, 10, 2, 1_300); // the new owner goes on
    v.ended(1); // its connection read `unassigned` after that batch

    Verifier.Outcome o = v.outcome();
    assertThat(o.doubleOwners()).isZero();
    assertThat(o.repeats()).isZero();
    assertThat(o.gaps()).isZero();
    assertThat(o.lateFromMoved()).isEqualTo(4);
    assertThat(o.applied()).isEqualTo(10);
  }

  @Test
  void lateEventsOfAStreamNeverToldItMovedAreTwoOwnersAtOnce() {
    Verifier v = moving();
    deliver(v, 1, 5, 1, 1_000);
    deliver(v, 6, 8, 2, 1_100);
    deliver(v, 6, 9, 1, 1_200, false); // never followed by `unassigned` or a close

    assertThat(v.outcome().doubleOwners()).isEqualTo(4);
    assertThat(v.outcome().passed()).isFalse();
  }

  @Test
  void aReplacedStreamThatDeliversAgainIsTwoOwnersAtOnce() {
    Verifier v = moving();
    deliver(v, 1, 5, 1, 1_000);
    deliver(v, 6, 8, 2, 1_100);
    deliver(v, 9, 10, 1, 1_200); // the old connection still delivers

    Verifier.Outcome o = v.outcome();
    assertThat(o.doubleOwners()).isEqualTo(2);
    assertThat(o.passed()).isFalse();
  }

  @Test
  void afterAKillCallbacksMayRedeliverOneRunAndAcksJustBeforeTheKillAreNotSure() {
    Verifier v = moving();
    Verifier.MerchantState m = v.merchant(giant.id());
    deliver(v, 1, 10, 0, 1_000);
    v.acked(m, 4, 1_000);
    v.acked(m, 10, 9_500); // answered just before the kill: the dead node may not have stored it
    v.killed(10_000);
    deliver(v, 5, 12, 0, 20_000); // the new owner from cursor 4: one run of redelivery

    Verifier.Outcome o = v.outcome();
    assertThat(o.redelivered()).isEqualTo(6);
    assertThat(o.repeats()).isZero();
    assertThat(o.takeover().waited()).isEqualTo(1);
    assertThat(o.takeover().millis()).isEqualTo(10_000);

    deliver(v, 11, 12, 0, 21_000); // a second run: not a takeover's
    assertThat(v.outcome().repeats()).isEqualTo(2);
  }

  @Test
  void withOneNodeAndNoKillEveryRepeatFails() {
    Verifier v = new Verifier("one node", population);
    deliver(v, 1, 10, 1, 1_000);
    deliver(v, 7, 10, 2, 5_000);

    assertThat(v.outcome().repeats()).isEqualTo(4);
    assertThat(v.outcome().redelivered()).isZero();
  }

  @Test
  void afterAKillARedeliveryAtOrBelowTheCursorStoredThenIsAppliedTwice() {
    Verifier v = moving();
    deliver(v, 1, 10, 0, 1_000);
    v.killed(10_000);
    v.storedAtKill(java.util.Map.of(giant.id(), 6L));
    deliver(v, 5, 12, 0, 20_000); // the new owner should have started at 7

    Verifier.Outcome o = v.outcome();
    assertThat(o.repeats()).isEqualTo(6);
    assertThat(o.passed()).isFalse();
  }
}
