package io.orderpush.synthetic;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The merchants of a peak day, shaped like the seed's Double 11: 2 giants with 1,000,000 orders
 * each, 42 large merchants with 100,000, and a long tail (by default 1,000 merchants with 1,000
 * orders each), every order count multiplied by the drill's scale (at least 1 order each).
 *
 * <p>Every order has a life cycle fixed by (seed, merchant, order number), so the load generator
 * and the verifying consumers agree on it without talking: the consumers know which events each
 * order must produce, in which order, and how many events each merchant has in all.
 */
public final class Population {

  /** Event types of an order's life cycle. */
  public static final String CREATED = "order.created";

  public static final String PAID = "order.paid";
  public static final String SHIPPED = "order.shipped";
  public static final String REFUNDED = "order.refunded";
  public static final String CLOSED = "order.closed";

  /**
   * The four life cycles: unpaid and closed (5%); paid then refunded before shipping (about 3%);
   * paid and shipped (about 88%); shipped then refunded (about 4%).
   */
  private static final String[][] LIFECYCLES = {
    {CREATED, CLOSED},
    {CREATED, PAID, REFUNDED},
    {CREATED, PAID, SHIPPED},
    {CREATED, PAID, SHIPPED, REFUNDED},
  };

  /** One merchant: its id, tier ({@code giant}, {@code large}, {@code tail}) and order count. */
  public record Merchant(int index, String id, String tier, int orders) {}

  private final long seed;
  private final List<Merchant> merchants;
  private final Map<String, Merchant> byId = new HashMap<>();
  private final long[] eventsOf;
  private final long totalOrders;
  private final long totalEvents;

  private Population(long seed, List<Merchant> merchants) {
    this.seed = seed;
    this.merchants = Collections.unmodifiableList(merchants);
    this.eventsOf = new long[merchants.size()];
    long orders = 0;
    long events = 0;
    for (Merchant m : merchants) {
      byId.put(m.id(), m);
      long e = 0;
      for (int o = 0; o < m.orders(); o++) {
        e += lifecycle(m.index(), o).length;
      }
      eventsOf[m.index()] = e;
      orders += m.orders();
      events += e;
    }
    this.totalOrders = orders;
    this.totalEvents = events;
  }

  /**
   * The Double 11 shape at {@code scale} (1.0: 2 x 1,000,000 + 42 x 100,000 + tail x 1,000 orders),
   * with {@code tailMerchants} merchants in the tail.
   */
  public static Population doubleEleven(double scale, int tailMerchants, long seed) {
    return doubleEleven(scale, tailMerchants, seed, "drill-");
  }

  /**
   * The same with merchant ids {@code idPrefix} + {@code g01}, {@code l001}, {@code t000001}... (an
   * app drill's sandbox namespace, {@code sandbox:<drill>:}).
   */
  public static Population doubleEleven(
      double scale, int tailMerchants, long seed, String idPrefix) {
    if (!(scale > 0) || scale > 10) {
      throw new IllegalArgumentException("scale must be in (0, 10], not " + scale);
    }
    if (tailMerchants < 0 || tailMerchants > 100_000) {
      throw new IllegalArgumentException("tail merchants must be 0-100000, not " + tailMerchants);
    }
    List<Merchant> list = new ArrayList<>();
    add(list, "giant", idPrefix + "g", 2, 2, 1_000_000, scale);
    add(list, "large", idPrefix + "l", 42, 3, 100_000, scale);
    add(list, "tail", idPrefix + "t", tailMerchants, 6, 1_000, scale);
    return new Population(seed, list);
  }

  private static void add(
      List<Merchant> list,
      String tier,
      String prefix,
      int count,
      int digits,
      int orders,
      double scale) {
    int scaled = (int) Math.max(1, Math.round(orders * scale));
    for (int i = 1; i <= count; i++) {
      list.add(
          new Merchant(list.size(), prefix + String.format("%0" + digits + "d", i), tier, scaled));
    }
  }

  public List<Merchant> merchants() {
    return merchants;
  }

  public Merchant merchant(String id) {
    return byId.get(id);
  }

  /** Events merchant {@code index} emits over the whole drill (its final seq). */
  public long eventsOf(int index) {
    return eventsOf[index];
  }

  public long totalOrders() {
    return totalOrders;
  }

  public long totalEvents() {
    return totalEvents;
  }

  /** The event types order {@code orderNo} of merchant {@code merchant} goes through, in order. */
  public String[] lifecycle(int merchant, int orderNo) {
    return LIFECYCLES[lifecycleIndex(mix(seed, merchant, orderNo))];
  }

  /** A variant number 0-255 of the order's body (buyer, items, amounts), fixed per order. */
  int variant(int merchant, int orderNo) {
    return (int) (mix(seed, merchant, orderNo) >>> 40) & 0xff;
  }

  private static int lifecycleIndex(long h) {
    int p = (int) ((h >>> 16) % 1000);
    if (p < 50) {
      return 0;
    }
    if (p < 78) {
      return 1;
    }
    return p < 960 ? 2 : 3;
  }

  /** The order id of order {@code orderNo} of a merchant: {@code <merchantId>-o<orderNo>}. */
  public static String orderId(String merchantId, int orderNo) {
    return merchantId + "-o" + orderNo;
  }

  /** The order number in an order id made by {@link #orderId}, or -1. */
  public static int orderNo(String orderId) {
    int at = orderId.lastIndexOf("-o");
    if (at < 0) {
      return -1;
    }
    try {
      return Integer.parseInt(orderId, at + 2, orderId.length(), 10);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** SplitMix64 over the three inputs: cheap, and well spread. */
  private static long mix(long seed, int merchant, int orderNo) {
    long z = seed * 0x9E3779B97F4A7C15L + ((long) merchant << 32 | (orderNo & 0xffffffffL));
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
