package io.orderpush.perf;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.SplittableRandom;

/**
 * Builds ingest request bodies: JSON arrays of order events of about 520 bytes each, every event
 * with a unique eventId and a random merchant out of {@code merchants}. The {@code data} objects
 * (buyer, items, amount, shipping) are rendered once up front from a pool of variants, so building
 * a 1,000-event body costs the load generator little CPU on a machine it shares with the gateway.
 */
final class EventFactory {

  private static final String[] TYPES = {
    "order.created", "order.paid", "order.shipped", "order.updated"
  };
  private static final String[] CITIES = {
    "Shanghai", "Hangzhou", "Shenzhen", "Chengdu", "Wuhan", "Xi'an"
  };
  private static final String[] SKUS = {
    "SKU-10022-BLK-M", "SKU-20871-WHT-L", "SKU-33104-RED-S", "SKU-48810-NAV-XL"
  };
  private static final String[] RECEIVERS = {"张三", "李四", "王小明", "欧阳娜娜"};
  private static final int DATA_VARIANTS = 256;

  private final String runId;
  private final String merchantPrefix;
  private final int merchants;
  private final byte[][] data = new byte[DATA_VARIANTS][];
  private final SplittableRandom random;
  private long nextEvent;

  /** What one batch carries: the body, and per event its merchant index (for checking answers). */
  record Batch(Buffer body, int[] merchantOf, String[] eventIds) {}

  EventFactory(String runId, String merchantPrefix, int merchants, long seed) {
    this.runId = runId;
    this.merchantPrefix = merchantPrefix;
    this.merchants = merchants;
    this.random = new SplittableRandom(seed);
    for (int i = 0; i < DATA_VARIANTS; i++) {
      data[i] = renderData(i, new SplittableRandom(seed * 31 + i)).getBytes(StandardCharsets.UTF_8);
    }
  }

  String merchantId(int index) {
    return merchantPrefix + String.format("%04d", index);
  }

  Batch next(int size) {
    Buffer body = Buffer.buffer(size * 540 + 2);
    int[] merchantOf = new int[size];
    String[] ids = new String[size];
    String occurredAt = Instant.now().toString();
    body.appendByte((byte) '[');
    for (int i = 0; i < size; i++) {
      if (i > 0) {
        body.appendByte((byte) ',');
      }
      ids[i] = "evt-" + runId + "-" + nextEvent;
      merchantOf[i] = appendEvent(body, occurredAt);
    }
    body.appendByte((byte) ']');
    return new Batch(body, merchantOf, ids);
  }

  /**
   * Appends one event (a JSON object) of a random merchant to {@code body}; returns the merchant's
   * index. {@link #next} builds its batches of these; JetStreamBench publishes them one by one.
   */
  int appendEvent(Buffer body, String occurredAt) {
    int m = random.nextInt(merchants);
    long n = nextEvent++;
    body.appendString("{\"eventId\":\"evt-")
        .appendString(runId)
        .appendString("-")
        .appendString(Long.toString(n))
        .appendString("\",\"merchantId\":\"")
        .appendString(merchantId(m))
        .appendString("\",\"orderId\":\"ord-")
        .appendString(runId)
        .appendString("-")
        .appendString(Long.toString(n / 3))
        .appendString("\",\"type\":\"")
        .appendString(TYPES[(int) (n & 3)])
        .appendString("\",\"occurredAt\":\"")
        .appendString(occurredAt)
        .appendString("\",\"data\":")
        .appendBytes(data[random.nextInt(DATA_VARIANTS)])
        .appendByte((byte) '}');
    return m;
  }

  /**
   * A realistic order body: buyer and receiver (with the personal data guarantee 6 masks), two line
   * items, amounts in cents, shipping address.
   */
  private static String renderData(int variant, SplittableRandom r) {
    int qty1 = 1 + r.nextInt(3);
    int qty2 = 1 + r.nextInt(2);
    int price1 = 1999 + r.nextInt(20000);
    int price2 = 499 + r.nextInt(5000);
    int total = qty1 * price1 + qty2 * price2;
    return "{\"buyer\":{\"id\":\"b-"
        + (100000 + r.nextInt(900000))
        + "\",\"name\":\"Buyer "
        + variant
        + "\",\"phone\":\"+86-138"
        + (10000000 + r.nextInt(89999999))
        + "\"},"
        + "\"receiver\":{\"name\":\""
        + RECEIVERS[r.nextInt(RECEIVERS.length)]
        + "\",\"mobile\":\"139"
        + (10000000 + r.nextInt(89999999))
        + "\",\"address\":\"浙江省杭州市西湖区文三路 "
        + (1 + r.nextInt(999))
        + " 号\"},"
        + "\"items\":[{\"sku\":\""
        + SKUS[r.nextInt(SKUS.length)]
        + "\",\"qty\":"
        + qty1
        + ",\"price\":"
        + price1
        + "},"
        + "{\"sku\":\""
        + SKUS[r.nextInt(SKUS.length)]
        + "\",\"qty\":"
        + qty2
        + ",\"price\":"
        + price2
        + "}],"
        + "\"amount\":{\"total\":"
        + total
        + ",\"currency\":\"CNY\"},"
        + "\"shipping\":{\"city\":\""
        + CITIES[r.nextInt(CITIES.length)]
        + "\",\"zip\":\""
        + (100000 + r.nextInt(800000))
        + "\"}}";
  }
}
