package io.orderpush.synthetic;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The marketplace's event stream for a {@link Population}: ingest request bodies (JSON arrays),
 * each holding the complete life cycles of whole orders, with the orders' events interleaved (every
 * order's first event, then every second event, ...) so each order's events stay in life cycle
 * order within the batch and the gateway commits them in that order. Merchants are drawn in
 * proportion to the orders they have left, so giants and the tail finish together, as on the real
 * day. Each merchant's orders are numbered 0, 1, 2, ... in the order they are emitted.
 *
 * <p>Thread-safe ({@link #next} is synchronized): Gatling calls it from its event loops.
 */
public final class OrderStream {

  private static final String[] CITIES = {
    "Shanghai", "Hangzhou", "Shenzhen", "Chengdu", "Wuhan", "Xi'an", "Beijing", "Nanjing"
  };
  private static final String[] SKUS = {
    "SKU-10022-BLK-M", "SKU-20871-WHT-L", "SKU-33104-RED-S", "SKU-48810-NAV-XL", "SKU-51277-GRY-40"
  };
  private static final String[] TITLES = {
    "Down jacket", "Running shoes", "Wool scarf", "Phone case", "Rice cooker"
  };
  private static final String[] CARRIERS = {
    "SF Express", "ZTO Express", "YTO Express", "JD Logistics", "Cainiao"
  };
  private static final String[] PAY = {"alipay", "alipay", "alipay", "credit_card", "huabei"};
  private static final String[] REFUND_REASONS = {
    "changed_mind", "wrong_size", "damaged_in_transit", "late_delivery"
  };

  private final Population population;
  private final int batchEvents;
  private final String runId;
  private final SplittableRandom random;

  /** Fenwick tree over the merchants' remaining orders. */
  private final long[] tree;

  private final int[] nextOrder;
  private final String[] created = new String[256];
  private final int[] totals = new int[256];
  private long remaining;
  private long eventsEmitted;
  private long batchesEmitted;

  public OrderStream(Population population, int batchEvents, String runId, long seed) {
    if (batchEvents < 1 || batchEvents > 1000) {
      throw new IllegalArgumentException("batch must be 1-1000 events, not " + batchEvents);
    }
    this.population = population;
    this.batchEvents = batchEvents;
    this.runId = runId;
    this.random = new SplittableRandom(seed);
    int n = population.merchants().size();
    this.tree = new long[n + 1];
    this.nextOrder = new int[n];
    for (Population.Merchant m : population.merchants()) {
      add(m.index(), m.orders());
      remaining += m.orders();
    }
    SplittableRandom r = new SplittableRandom(seed ^ 0x5DEECE66DL);
    for (int v = 0; v < created.length; v++) {
      renderCreated(v, r);
    }
  }

  /** The next request body, or null once every order has been emitted. */
  public synchronized String next() {
    if (remaining == 0) {
      return null;
    }
    List<int[]> orders = new ArrayList<>();
    int events = 0;
    int maxSteps = 0;
    while (events < batchEvents && remaining > 0) {
      int[] order = nextOrder();
      int steps = population.lifecycle(order[0], order[1]).length;
      orders.add(order);
      events += steps;
      maxSteps = Math.max(maxSteps, steps);
    }
    String occurredAt = Instant.now().toString();
    StringBuilder body = new StringBuilder(events * 460);
    body.append('[');
    for (int step = 0; step < maxSteps; step++) {
      for (int[] o : orders) {
        String[] cycle = population.lifecycle(o[0], o[1]);
        if (step < cycle.length) {
          if (body.length() > 1) {
            body.append(',');
          }
          event(body, o[0], o[1], step, cycle[step], occurredAt);
        }
      }
    }
    body.append(']');
    eventsEmitted += events;
    batchesEmitted++;
    return body.toString();
  }

  /** Draws the next order: {merchant index, order number}. */
  private int[] nextOrder() {
    int m = pick(random.nextLong(remaining));
    int orderNo = nextOrder[m]++;
    add(m, -1);
    remaining--;
    return new int[] {m, orderNo};
  }

  /**
   * How many requests the whole population takes, by drawing every order as {@link #next} would
   * (without rendering a byte): the load profile is sized in requests from it.
   */
  public static long requestsFor(Population population, int batchEvents, long seed) {
    OrderStream dry = new OrderStream(population, batchEvents, "dry", seed);
    long requests = 0;
    while (dry.remaining > 0) {
      int events = 0;
      while (events < batchEvents && dry.remaining > 0) {
        int[] order = dry.nextOrder();
        events += population.lifecycle(order[0], order[1]).length;
      }
      requests++;
    }
    return requests;
  }

  public synchronized long eventsEmitted() {
    return eventsEmitted;
  }

  public synchronized long batchesEmitted() {
    return batchesEmitted;
  }

  public synchronized boolean exhausted() {
    return remaining == 0;
  }

  private void event(
      StringBuilder b, int m, int orderNo, int step, String type, String occurredAt) {
    String merchantId = population.merchants().get(m).id();
    int v = population.variant(m, orderNo);
    b.append("{\"eventId\":\"")
        .append(runId)
        .append('-')
        .append(m)
        .append('-')
        .append(orderNo)
        .append('-')
        .append(step)
        .append("\",\"merchantId\":\"")
        .append(merchantId)
        .append("\",\"orderId\":\"")
        .append(Population.orderId(merchantId, orderNo))
        .append("\",\"type\":\"")
        .append(type)
        .append("\",\"occurredAt\":\"")
        .append(occurredAt)
        .append("\",\"data\":");
    switch (type) {
      case Population.CREATED -> b.append(created[v]);
      case Population.PAID ->
          b.append("{\"status\":\"paid\",\"payment\":{\"method\":\"")
              .append(PAY[v % PAY.length])
              .append("\",\"txnId\":\"pay-")
              .append(runId)
              .append('-')
              .append(m)
              .append('-')
              .append(orderNo)
              .append("\",\"amount\":")
              .append(totals[v])
              .append(",\"currency\":\"CNY\"}}");
      case Population.SHIPPED ->
          b.append("{\"status\":\"shipped\",\"logistics\":{\"carrier\":\"")
              .append(CARRIERS[v % CARRIERS.length])
              .append("\",\"trackingNo\":\"TN")
              .append(100000000L + (long) m * 7919 + orderNo)
              .append("\",\"warehouse\":\"WH-")
              .append(CITIES[v % CITIES.length], 0, 2)
              .append("-0")
              .append(v % 7)
              .append("\"}}");
      case Population.REFUNDED ->
          b.append("{\"status\":\"refunded\",\"refund\":{\"amount\":")
              .append(totals[v])
              .append(",\"currency\":\"CNY\",\"reason\":\"")
              .append(REFUND_REASONS[v % REFUND_REASONS.length])
              .append("\"}}");
      default -> b.append("{\"status\":\"closed\",\"reason\":\"unpaid_timeout\"}");
    }
    b.append('}');
  }

  /**
   * A created order's body: buyer (with the personal data a pii grant unmasks), items, amounts,
   * address.
   */
  private void renderCreated(int v, SplittableRandom r) {
    int qty1 = 1 + r.nextInt(3);
    int qty2 = 1 + r.nextInt(2);
    int price1 = 1999 + r.nextInt(20000);
    int price2 = 499 + r.nextInt(5000);
    int shipping = r.nextInt(3) == 0 ? 800 : 0;
    int discount = r.nextInt(4) == 0 ? 1000 : 0;
    int total = qty1 * price1 + qty2 * price2 + shipping - discount;
    totals[v] = total;
    int sku1 = r.nextInt(SKUS.length);
    int sku2 = (sku1 + 1 + r.nextInt(SKUS.length - 1)) % SKUS.length;
    created[v] =
        "{\"status\":\"created\",\"buyer\":{\"id\":\"b-"
            + (100000 + r.nextInt(900000))
            + "\",\"nick\":\"buyer_"
            + v
            + "\",\"phone\":\"+86-138"
            + (10000000 + r.nextInt(89999999))
            + "\"},"
            + "\"items\":[{\"sku\":\""
            + SKUS[sku1]
            + "\",\"title\":\""
            + TITLES[sku1]
            + "\",\"qty\":"
            + qty1
            + ",\"price\":"
            + price1
            + "},"
            + "{\"sku\":\""
            + SKUS[sku2]
            + "\",\"title\":\""
            + TITLES[sku2]
            + "\",\"qty\":"
            + qty2
            + ",\"price\":"
            + price2
            + "}],"
            + "\"amount\":{\"items\":"
            + (qty1 * price1 + qty2 * price2)
            + ",\"shipping\":"
            + shipping
            + ",\"discount\":"
            + discount
            + ",\"total\":"
            + total
            + ",\"currency\":\"CNY\"},"
            + "\"address\":{\"city\":\""
            + CITIES[r.nextInt(CITIES.length)]
            + "\",\"line\":\"No. "
            + (1 + r.nextInt(300))
            + " Wensan Road, Room "
            + (100 + r.nextInt(900))
            + "\"}}";
  }

  // Fenwick tree: prefix sums of remaining orders, to draw a merchant in proportion to them.

  private void add(int i, long delta) {
    for (int x = i + 1; x < tree.length; x += x & -x) {
      tree[x] += delta;
    }
  }

  /**
   * The merchant whose range of remaining orders holds {@code target} (0 <= target < remaining).
   */
  private int pick(long target) {
    int pos = 0;
    for (int step = Integer.highestOneBit(tree.length - 1); step > 0; step >>= 1) {
      int next = pos + step;
      if (next < tree.length && tree[next] <= target) {
        pos = next;
        target -= tree[next];
      }
    }
    return pos;
  }
}
