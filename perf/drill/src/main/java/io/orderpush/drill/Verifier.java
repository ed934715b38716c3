package io.orderpush.drill;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Recorder;

/**
 * What one verifying consumer (an app) checks, event by event, as it applies them. Confined to the
 * consumer's event loop; the counters are volatile so the drill's sampler can read them.
 *
 * <ul>
 *   <li><b>Order per merchant:</b> every event's seq is the last applied + 1. A seq above that is a
 *       <em>gap</em> (something skipped or reordered); a seq at or below it is a repeat: the event
 *       was applied already and came again (<em>applied twice</em> for a consumer that does not
 *       deduplicate; this one skips it).
 *   <li><b>Order per order:</b> each order's events follow its life cycle ({@link Population}),
 *       starting with {@code order.created}; a wrong or repeated step is a <em>life cycle
 *       error</em>.
 *   <li><b>Nothing lost:</b> at the end, every merchant's last applied seq must equal the number of
 *       events the population gives it, and no order may be left half way.
 * </ul>
 *
 * Commit-to-receipt latency (receipt of the message minus the event's {@code ingestedAt}) of every
 * newly applied event goes into {@link #latencyMicros}.
 */
final class Verifier {

  private static final int MAX_KEPT_ERRORS = 20;

  /** Per merchant: last applied seq, and its orders still open (order number -> steps done). */
  static final class MerchantState {
    final Population.Merchant merchant;
    long last;
    final Map<Integer, Integer> open = new HashMap<>();

    MerchantState(Population.Merchant merchant) {
      this.merchant = merchant;
    }
  }

  final String name;
  private final Population population;
  private final Map<String, MerchantState> merchants = new HashMap<>();
  final Recorder latencyMicros = new Recorder(3);
  private final List<String> firstErrors = new ArrayList<>();
  volatile long applied;
  volatile long repeats;
  volatile long gaps;
  volatile long lifecycleErrors;

  /** Other errors: unknown merchants, unparsable messages, bad signatures, closed connections. */
  volatile long errors;

  volatile long messages;
  private final IngestedAt ingestedAt = new IngestedAt();

  Verifier(String name, Population population) {
    this.name = name;
    this.population = population;
    for (Population.Merchant m : population.merchants()) {
      merchants.put(m.id(), new MerchantState(m));
    }
  }

  /**
   * The merchant's state, or null (counted as an error) when the population has no such merchant.
   */
  MerchantState merchant(String id) {
    MerchantState m = id == null ? null : merchants.get(id);
    if (m == null) {
      error("events of unknown merchant " + id);
    }
    return m;
  }

  /**
   * One delivered event. Returns true if it was newly applied, false if it was a repeat.
   *
   * @param ingestedAt the event's {@code ingestedAt} (ISO-8601), or null
   */
  boolean event(
      MerchantState m,
      long seq,
      String orderId,
      String type,
      String ingestedAt,
      long arrivalMicros) {
    if (seq <= m.last) {
      repeats++;
      record(m.merchant.id() + ": seq " + seq + " delivered again (last applied " + m.last + ")");
      return false;
    }
    if (seq != m.last + 1) {
      gaps++;
      record(m.merchant.id() + ": seq " + seq + " arrived where " + (m.last + 1) + " was due");
    }
    m.last = seq;
    applied++;
    checkLifecycle(m, orderId, type);
    if (ingestedAt != null) {
      latencyMicros.recordValue(
          Math.max(0, arrivalMicros - this.ingestedAt.millis(ingestedAt) * 1000));
    }
    return true;
  }

  private void checkLifecycle(MerchantState m, String orderId, String type) {
    int orderNo =
        orderId == null || !orderId.startsWith(m.merchant.id()) ? -1 : Population.orderNo(orderId);
    if (orderNo < 0 || orderNo >= m.merchant.orders()) {
      lifecycle(m.merchant.id() + ": event with an order id not of this merchant: " + orderId);
      return;
    }
    String[] cycle = population.lifecycle(m.merchant.index(), orderNo);
    int done = m.open.getOrDefault(orderNo, 0);
    if (done >= cycle.length || !cycle[done].equals(type)) {
      lifecycle(
          orderId
              + ": "
              + type
              + " arrived where "
              + (done < cycle.length ? cycle[done] : "nothing more")
              + " was due");
      return;
    }
    if (done + 1 == cycle.length) {
      m.open.remove(orderNo);
    } else {
      m.open.put(orderNo, done + 1);
    }
  }

  private void lifecycle(String what) {
    lifecycleErrors++;
    record(what);
  }

  /**
   * A problem outside the per-event checks (protocol, parsing, signatures, connections): counted in
   * {@link #errors}.
   */
  void error(String what) {
    errors++;
    record(what);
  }

  /** Keeps (and prints) the first few problems of any kind for the report. */
  private void record(String what) {
    if (firstErrors.size() < MAX_KEPT_ERRORS) {
      firstErrors.add(what);
      System.err.println("drill: " + name + ": " + what);
    }
  }

  /** The end of the drill: per merchant, what is missing, and the orders left half way. */
  Outcome outcome() {
    long lost = 0;
    long extra = 0;
    long openOrders = 0;
    List<String> problems = new ArrayList<>(firstErrors);
    for (MerchantState m : merchants.values()) {
      long expected = population.eventsOf(m.merchant.index());
      if (m.last < expected) {
        lost += expected - m.last;
        if (problems.size() < MAX_KEPT_ERRORS) {
          problems.add(m.merchant.id() + ": last applied seq " + m.last + " of " + expected);
        }
      } else if (m.last > expected) {
        extra += m.last - expected;
      }
      openOrders += m.open.size();
    }
    return new Outcome(
        applied,
        lost,
        extra,
        repeats,
        gaps,
        lifecycleErrors,
        openOrders,
        errors,
        List.copyOf(problems));
  }

  record Outcome(
      long applied,
      long lost,
      long extra,
      long repeats,
      long gaps,
      long lifecycleErrors,
      long openOrders,
      long errors,
      List<String> firstErrors) {
    boolean passed() {
      return lost == 0
          && extra == 0
          && repeats == 0
          && gaps == 0
          && lifecycleErrors == 0
          && openOrders == 0
          && errors == 0;
    }
  }

  static long micros(Instant t) {
    return IngestedAt.micros(t);
  }
}
