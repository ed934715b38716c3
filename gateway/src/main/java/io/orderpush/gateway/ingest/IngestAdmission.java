package io.orderpush.gateway.ingest;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.persistence.events.IngestOverloadedException;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.PlatformHandler;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds the bytes of ingest requests in flight, from admission until the answer is sent: the
 * request's Content-Length (or {@code ingest.max-request-bytes} when it has none) is reserved
 * before its body is read, and released when the response ends or the connection closes. Past
 * {@code ingest.max-in-flight-bytes} a request is answered 503 with {@code Retry-After} at once,
 * without reading its body, so a crowd of senders cannot fill the heap with request bodies while
 * the write queue ({@code ingest.max-queued-events}) is full. Shared by every HTTP event loop.
 */
public final class IngestAdmission implements PlatformHandler {

  private final long maxInFlightBytes;
  private final long maxRequestBytes;
  private final AtomicLong inFlight = new AtomicLong();
  private final Counter rejected;

  public IngestAdmission(long maxInFlightBytes, long maxRequestBytes, MeterRegistry registry) {
    this.maxInFlightBytes = maxInFlightBytes;
    this.maxRequestBytes = maxRequestBytes;
    this.rejected =
        Counter.builder("gateway.ingest.rejected")
            .tag("reason", "in_flight_bytes")
            .description(
                "Ingest requests refused with 503 because too many request bytes were in flight")
            .register(registry);
    Gauge.builder("gateway.ingest.in.flight.bytes", inFlight::get)
        .description("Bytes of ingest requests admitted and not yet answered")
        .baseUnit("bytes")
        .register(registry);
  }

  @Override
  public void handle(RoutingContext ctx) {
    long reserve = reservation(ctx.request().getHeader("Content-Length"));
    long now = inFlight.addAndGet(reserve);
    if (now > maxInFlightBytes
        && now != reserve) { // a lone request always gets in (its size is capped anyway)
      inFlight.addAndGet(-reserve);
      rejected.increment();
      ctx.fail(new IngestOverloadedException("too many ingest requests in flight; retry later"));
      return;
    }
    ctx.addEndHandler(v -> inFlight.addAndGet(-reserve));
    ctx.next();
  }

  long inFlightBytes() {
    return inFlight.get();
  }

  private long reservation(String contentLength) {
    if (contentLength != null) {
      try {
        long n = Long.parseLong(contentLength.trim());
        if (n >= 0) {
          return Math.min(n, maxRequestBytes);
        }
      } catch (NumberFormatException e) {
        // a malformed length: reserve the most a body may be
      }
    }
    return maxRequestBytes;
  }
}
