package io.orderpush.gateway.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.gateway.config.AuthLimitConfig;
import io.vertx.core.net.SocketAddress;
import io.vertx.ext.web.RoutingContext;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Counts failed authentications per source address. An address with {@code maxFailures} failures
 * within one window is refused (429) on every authenticated path, with a right token or not, until
 * that window ends: guessing goes no faster than the limit, and a guess that happens to be right is
 * not told apart from a wrong one. IPv6 addresses count per /64, which one host usually holds
 * whole.
 *
 * <p>Memory is bounded: at most {@code maxTrackedAddresses} windows are kept, in least recently
 * used order. When the table is full, the address whose failures were seen least recently is
 * forgotten (its count starts over), and {@code gateway.auth.limiter.evictions} counts it. Shared
 * by every HTTP verticle, so its few operations are synchronized.
 */
public final class AuthFailureLimiter {

  /** Never refuses; for tests and tools that build handlers without a limiter. */
  public static final AuthFailureLimiter NONE =
      new AuthFailureLimiter(
          new AuthLimitConfig(Integer.MAX_VALUE, java.time.Duration.ofMillis(1), 1), null, () -> 0);

  private final int maxFailures;
  private final long windowMs;
  private final LongSupplier clock;
  private final Map<String, Window> windows;
  private final Counter evictions;
  private final MeterRegistry registry;

  public AuthFailureLimiter(AuthLimitConfig config, MeterRegistry registry) {
    this(config, registry, System::currentTimeMillis);
  }

  AuthFailureLimiter(AuthLimitConfig config, MeterRegistry registry, LongSupplier clock) {
    this.maxFailures = config.maxFailures();
    this.windowMs = config.window().toMillis();
    this.clock = clock;
    this.registry = registry;
    int max = config.maxTrackedAddresses();
    this.evictions =
        registry == null
            ? null
            : Counter.builder("gateway.auth.limiter.evictions")
                .description("Addresses forgotten because the failed-authentication table was full")
                .register(registry);
    this.windows =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Window> eldest) {
            if (size() <= max) {
              return false;
            }
            if (evictions != null) {
              evictions.increment();
            }
            return true;
          }
        };
    if (registry != null) {
      Gauge.builder("gateway.auth.limiter.addresses", this, AuthFailureLimiter::tracked)
          .description("Source addresses with failed authentications in their current window")
          .register(registry);
      // Every realm's series from the start, so a dashboard or alert sees 0 rather than nothing.
      for (String realm : REALMS) {
        count(FAILURES, FAILURES_HELP, realm, 0);
        count(REFUSED, REFUSED_HELP, realm, 0);
      }
    }
  }

  /** The realms the gateway authenticates in: BearerAuth's, AppAuth's, StreamHandler's. */
  static final java.util.List<String> REALMS =
      java.util.List.of("ingest", "operator", "app", "stream");

  private static final String FAILURES = "gateway.auth.failures";
  private static final String FAILURES_HELP = "Failed authentications: missing or wrong token";
  private static final String REFUSED = "gateway.auth.refused";
  private static final String REFUSED_HELP =
      "Requests refused with 429 after too many failed authentications";

  /** The key an address counts under: the IPv4 address, or the /64 of an IPv6 one. */
  public static String key(SocketAddress remote) {
    if (remote == null) {
      return "unknown";
    }
    String host = remote.hostAddress();
    if (host == null) {
      return "unknown";
    }
    if (host.indexOf(':') < 0) {
      return host;
    }
    try {
      byte[] b = java.net.InetAddress.getByName(host).getAddress();
      if (b.length != 16) {
        return host;
      }
      StringBuilder s = new StringBuilder(24);
      for (int i = 0; i < 8; i += 2) {
        s.append(Integer.toHexString(((b[i] & 0xff) << 8) | (b[i + 1] & 0xff))).append(':');
      }
      return s.append(":/64").toString();
    } catch (java.net.UnknownHostException e) {
      return host;
    }
  }

  /** Seconds the address must wait before it may authenticate again; 0 if it may now. */
  public synchronized long retryAfterSeconds(String address) {
    if (maxFailures == Integer.MAX_VALUE) {
      return 0; // NONE
    }
    Window w = windows.get(address);
    if (w == null) {
      return 0;
    }
    long now = clock.getAsLong();
    long left = w.start + windowMs - now;
    if (left <= 0) {
      windows.remove(address);
      return 0;
    }
    return w.failures >= maxFailures ? (left + 999) / 1000 : 0;
  }

  /** Records a failed authentication of the address. */
  public synchronized void failed(String address) {
    if (maxFailures == Integer.MAX_VALUE) {
      return; // NONE
    }
    long now = clock.getAsLong();
    Window w = windows.get(address);
    if (w == null || w.start + windowMs <= now) {
      w = new Window(now);
      windows.put(address, w);
    }
    w.failures++;
  }

  /**
   * Answers {@code 429} with {@code Retry-After} and returns true if the caller's address is
   * refused now; the handler then stops.
   */
  public boolean refuse(RoutingContext ctx, String realm) {
    long wait = retryAfterSeconds(key(ctx.request().remoteAddress()));
    if (wait == 0) {
      return false;
    }
    count(REFUSED, REFUSED_HELP, realm, 1);
    ctx.response().putHeader("Retry-After", Long.toString(wait));
    Failures.send(
        ctx,
        429,
        "too_many_auth_failures",
        "too many failed authentications from this address; retry after " + wait + " s",
        null);
    return true;
  }

  /** Records a failed authentication (missing or wrong token) from {@code remote}. */
  public void failed(SocketAddress remote, String realm) {
    count(FAILURES, FAILURES_HELP, realm, 1);
    failed(key(remote));
  }

  /**
   * Refuses a WebSocket upgrade like {@link #refuse(RoutingContext, String)}: {@code 429} with
   * {@code Retry-After}; true if it did.
   */
  public boolean refuse(Upgrade upgrade, String realm) {
    long wait = retryAfterSeconds(key(upgrade.remoteAddress()));
    if (wait == 0) {
      return false;
    }
    count(REFUSED, REFUSED_HELP, realm, 1);
    upgrade.refuse(
        429,
        "too_many_auth_failures",
        "too many failed authentications from this address; retry after " + wait + " s",
        wait);
    return true;
  }

  private void count(String name, String description, String realm, int n) {
    if (registry != null) {
      Counter.builder(name)
          .description(description)
          .tag("realm", realm)
          .register(registry)
          .increment(n);
    }
  }

  synchronized int tracked() {
    return windows.size();
  }

  private static final class Window {
    final long start;
    int failures;

    Window(long start) {
      this.start = start;
    }
  }
}
