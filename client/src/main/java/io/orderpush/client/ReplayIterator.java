package io.orderpush.client;

import io.orderpush.client.impl.Http;
import io.orderpush.client.impl.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A merchant's stored events in seq order, read from {@code GET /v1/merchants/{m}/events} one page
 * (one request of at most {@code pageSize} events) at a time and one line at a time within it: it
 * holds one event and one read buffer, however long the range. Close it to abandon a page early.
 * Not thread-safe.
 *
 * <p>Errors surface from {@link #hasNext()}: {@link ApiErrorException} for an answer such as {@code
 * 410 expired} or {@code 429 too_many_replays}, {@link UncheckedIOException} for a stream cut short
 * (for example the grant was revoked), never a stream that looks complete.
 */
public final class ReplayIterator implements Iterator<Event>, AutoCloseable {

  private final Http http;
  private final String path;
  private final long toSeq;
  private final int pageSize;
  private long fromSeq;
  private BufferedReader page;
  private int inPage;
  private boolean done;
  private Event next;
  private long pages;

  ReplayIterator(Http http, String merchantId, long fromSeq, long toSeq, int pageSize) {
    if (fromSeq < 1 || toSeq < fromSeq || pageSize < 1) {
      throw new IllegalArgumentException(
          "need 1 <= fromSeq <= toSeq and pageSize >= 1: fromSeq="
              + fromSeq
              + " toSeq="
              + toSeq
              + " pageSize="
              + pageSize);
    }
    this.http = http;
    this.path =
        "/v1/merchants/" + URLEncoder.encode(merchantId, StandardCharsets.UTF_8) + "/events";
    this.fromSeq = fromSeq;
    this.toSeq = toSeq;
    this.pageSize = pageSize;
  }

  @Override
  public boolean hasNext() {
    try {
      while (next == null && !done) {
        if (page == null) {
          open();
        }
        String line = page.readLine();
        if (line == null) {
          closePage();
          done = inPage < pageSize;
          continue;
        }
        if (line.isBlank()) {
          continue;
        }
        next = Json.event(Json.tree(line));
        inPage++;
        fromSeq = next.seq() + 1;
        if (next.seq() >= toSeq) {
          closePage();
          done = true;
        }
      }
      return next != null;
    } catch (IOException e) {
      close();
      throw new UncheckedIOException("replay of " + path + " cut short at seq " + fromSeq, e);
    }
  }

  @Override
  public Event next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    Event e = next;
    next = null;
    return e;
  }

  /** The pages (HTTP requests) made so far. */
  public long pages() {
    return pages;
  }

  private void open() {
    String query =
        "?fromSeq="
            + fromSeq
            + "&limit="
            + pageSize
            + (toSeq == Long.MAX_VALUE ? "" : "&toSeq=" + toSeq);
    page =
        new BufferedReader(
            new InputStreamReader(
                http.stream(http.request(path + query).GET().build()), StandardCharsets.UTF_8));
    inPage = 0;
    pages++;
  }

  private void closePage() {
    if (page != null) {
      try {
        page.close();
      } catch (IOException ignored) {
        // the page is abandoned either way
      }
      page = null;
    }
  }

  @Override
  public void close() {
    closePage();
    done = true;
    next = null;
  }
}
