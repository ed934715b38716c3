package io.orderpush.client;

import com.fasterxml.jackson.databind.JsonNode;
import io.orderpush.client.impl.Http;
import io.orderpush.client.impl.Json;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * The app's HTTP calls (docs/replay.md): replay a merchant's events, list the app's channels, set a
 * cursor. Thread-safe; one per app is enough. For push delivery see {@link StreamConsumer}, for
 * callbacks {@link CallbackReceiver}.
 */
public final class OrderPushClient {

  /** Events per replay request unless told otherwise. */
  public static final int DEFAULT_PAGE_SIZE = 1000;

  private static final int CHANNEL_PAGE = 500;

  private final Http http;

  /**
   * @param base the gateway, e.g. {@code https://push.example.com}
   * @param appToken the app's token ({@code gwa_...})
   */
  public OrderPushClient(URI base, String appToken) {
    this(
        base,
        appToken,
        HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build(),
        Duration.ofSeconds(60));
  }

  /**
   * @param requestTimeout for each request until its answer's headers arrive
   */
  public OrderPushClient(URI base, String appToken, HttpClient client, Duration requestTimeout) {
    this.http = new Http(client, base, appToken, requestTimeout);
  }

  /** The merchant's events from {@code fromSeq} to its head, {@value #DEFAULT_PAGE_SIZE} a page. */
  public ReplayIterator replay(String merchantId, long fromSeq) {
    return replay(merchantId, fromSeq, Long.MAX_VALUE, DEFAULT_PAGE_SIZE);
  }

  /**
   * The merchant's events from {@code fromSeq} to {@code toSeq} (or its head, whichever comes
   * first), requested {@code pageSize} at a time. The cursor does not move.
   */
  public ReplayIterator replay(String merchantId, long fromSeq, long toSeq, int pageSize) {
    return new ReplayIterator(http, merchantId, fromSeq, toSeq, pageSize);
  }

  /** Every channel of the app, fetched a page at a time as the iterator goes. */
  public Iterator<Channel> channels() {
    return new Iterator<>() {
      private final Deque<Channel> page = new ArrayDeque<>();
      private String after = "";
      private boolean last;

      @Override
      public boolean hasNext() {
        if (page.isEmpty() && !last) {
          fetch();
        }
        return !page.isEmpty();
      }

      @Override
      public Channel next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        return page.poll();
      }

      private void fetch() {
        String q =
            "/v1/channels?limit="
                + CHANNEL_PAGE
                + (after.isEmpty() ? "" : "&after=" + URLEncoder.encode(after, UTF8));
        JsonNode body = http.json(http.request(q).GET().build());
        for (JsonNode c : body.path("channels")) {
          page.add(
              new Channel(
                  Json.text(c, "merchantId"),
                  c.path("headSeq").asLong(),
                  c.path("cursor").asLong(),
                  c.path("lag").asLong(),
                  Json.text(c, "state")));
        }
        String next = Json.text(body, "next");
        last = next == null;
        after = next == null ? after : next;
      }
    };
  }

  /**
   * Sets the merchant's cursor: delivery goes on from {@code seq + 1} (a rewind or a skip). With an
   * {@link AppliedStore}, a rewind delivers events the store already holds, which it skips; to
   * apply them again, use a fresh store. After a skip forward, call {@link AppliedStore#skipTo}
   * too, or the next event is a {@link GapException}.
   */
  public CursorPosition setCursor(String merchantId, long seq) {
    HttpRequest req =
        http.request("/v1/channels/" + URLEncoder.encode(merchantId, UTF8) + "/cursor")
            .header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString(Json.seqBody(seq)))
            .build();
    JsonNode body = http.json(req);
    return new CursorPosition(
        Json.text(body, "merchantId"), body.path("cursor").asLong(), body.path("headSeq").asLong());
  }

  private static final java.nio.charset.Charset UTF8 = StandardCharsets.UTF_8;
}
