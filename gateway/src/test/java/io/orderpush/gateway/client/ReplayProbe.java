package io.orderpush.gateway.client;

import io.orderpush.client.Event;
import io.orderpush.client.OrderPushClient;
import io.orderpush.client.ReplayIterator;
import java.net.URI;

/**
 * Run by {@link ClientReplayIT} in a JVM with a small heap: replays a merchant's whole log through
 * the client's iterator, checking the seqs follow each other and keeping nothing, and prints {@code
 * events=N pages=P}. A client that held the stream or the events would run out of memory.
 */
public final class ReplayProbe {

  private ReplayProbe() {}

  public static void main(String[] args) {
    OrderPushClient client = new OrderPushClient(URI.create(args[0]), args[1]);
    long n = 0;
    try (ReplayIterator it = client.replay(args[2], 1, Long.MAX_VALUE, Integer.parseInt(args[3]))) {
      while (it.hasNext()) {
        Event e = it.next();
        if (e.seq() != ++n) {
          throw new IllegalStateException("seq " + e.seq() + " where " + n + " was due");
        }
      }
      System.out.println("events=" + n + " pages=" + it.pages());
    }
  }
}
