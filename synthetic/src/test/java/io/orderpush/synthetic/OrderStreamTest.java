package io.orderpush.synthetic;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class OrderStreamTest {

  private static final JsonFactory JSON = new JsonFactory();

  record Event(String eventId, String merchantId, String orderId, String type) {}

  @Test
  void emitsEveryOrderOnceWithWholeLifeCyclesInOrderWithinOneBatch() throws Exception {
    Population p = Population.doubleEleven(0.0005, 50, 7);
    OrderStream stream = new OrderStream(p, 50, "t1", 7);
    Map<String, Integer> perMerchant = new HashMap<>();
    Set<String> eventIds = new HashSet<>();
    long batches = 0;
    String body;
    while ((body = stream.next()) != null) {
      batches++;
      List<Event> events = parse(body);
      if (!stream
          .exhausted()) { // whole orders: up to 3 more than the batch size; the last one may be
        // short
        assertThat(events.size()).isBetween(50, 53);
      }
      Map<String, Integer> stepOf = new HashMap<>();
      for (Event e : events) {
        assertThat(eventIds.add(e.eventId())).as("unique event id %s", e.eventId()).isTrue();
        Population.Merchant m = p.merchant(e.merchantId());
        int orderNo = Population.orderNo(e.orderId());
        String[] cycle = p.lifecycle(m.index(), orderNo);
        int step = stepOf.getOrDefault(e.orderId(), 0);
        assertThat(e.type()).as("step %d of %s", step, e.orderId()).isEqualTo(cycle[step]);
        stepOf.put(e.orderId(), step + 1);
        perMerchant.merge(e.merchantId(), 1, Integer::sum);
      }
      stepOf.forEach(
          (order, steps) ->
              assertThat(steps)
                  .as("order %s complete in its batch", order)
                  .isEqualTo(
                      p.lifecycle(
                              p.merchant(order.substring(0, order.lastIndexOf("-o"))).index(),
                              Population.orderNo(order))
                          .length));
    }
    assertThat(stream.exhausted()).isTrue();
    assertThat(stream.eventsEmitted()).isEqualTo(p.totalEvents());
    for (Population.Merchant m : p.merchants()) {
      assertThat(perMerchant.get(m.id()).longValue()).isEqualTo(p.eventsOf(m.index()));
    }
    assertThat(OrderStream.requestsFor(p, 50, 7)).isEqualTo(batches);
  }

  @Test
  void concurrentCallersShareOneStreamWithoutLosingOrRepeatingOrders() throws Exception {
    Population p = Population.doubleEleven(0.0005, 20, 3);
    OrderStream stream = new OrderStream(p, 20, "t2", 3);
    ConcurrentLinkedQueue<String> bodies = new ConcurrentLinkedQueue<>();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Thread t =
          new Thread(
              () -> {
                try {
                  go.await();
                } catch (InterruptedException e) {
                  return;
                }
                String b;
                while ((b = stream.next()) != null) {
                  bodies.add(b);
                }
              });
      t.start();
      threads.add(t);
    }
    go.countDown();
    for (Thread t : threads) {
      t.join();
    }
    Set<String> ids = new HashSet<>();
    long events = 0;
    for (String b : bodies) {
      for (Event e : parse(b)) {
        assertThat(ids.add(e.eventId())).isTrue();
        events++;
      }
    }
    assertThat(events).isEqualTo(p.totalEvents());
  }

  private static List<Event> parse(String body) throws IOException {
    List<Event> out = new ArrayList<>();
    try (JsonParser j = JSON.createParser(body)) {
      assertThat(j.nextToken()).isEqualTo(JsonToken.START_ARRAY);
      while (j.nextToken() == JsonToken.START_OBJECT) {
        Map<String, String> f = new HashMap<>();
        boolean data = false;
        while (j.nextToken() == JsonToken.FIELD_NAME) {
          String name = j.currentName();
          j.nextToken();
          if (name.equals("data")) {
            data = j.currentToken() == JsonToken.START_OBJECT;
            j.skipChildren();
          } else {
            f.put(name, j.getText());
          }
        }
        assertThat(data).isTrue();
        assertThat(f).containsKeys("occurredAt");
        out.add(new Event(f.get("eventId"), f.get("merchantId"), f.get("orderId"), f.get("type")));
      }
    }
    return out;
  }
}
