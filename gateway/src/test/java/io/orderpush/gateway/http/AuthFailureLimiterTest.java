package io.orderpush.gateway.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.orderpush.gateway.config.AuthLimitConfig;
import io.vertx.core.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class AuthFailureLimiterTest {

  final AtomicLong now = new AtomicLong(1_000_000);
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  AuthFailureLimiter limiter(int max, int tracked) {
    return new AuthFailureLimiter(
        new AuthLimitConfig(max, Duration.ofSeconds(60), tracked), registry, now::get);
  }

  @Test
  void shouldRefuseAnAddressPastTheLimitUntilItsWindowEnds() {
    AuthFailureLimiter l = limiter(3, 100);
    for (int i = 0; i < 3; i++) {
      assertThat(l.retryAfterSeconds("10.0.0.1")).isZero();
      l.failed("10.0.0.1");
    }
    assertThat(l.retryAfterSeconds("10.0.0.1")).isEqualTo(60);
    assertThat(l.retryAfterSeconds("10.0.0.2")).isZero();
    now.addAndGet(59_001);
    assertThat(l.retryAfterSeconds("10.0.0.1")).isEqualTo(1);
    now.addAndGet(1_000);
    assertThat(l.retryAfterSeconds("10.0.0.1")).isZero();
    assertThat(l.tracked()).as("an expired window is forgotten").isZero();
  }

  @Test
  void shouldStartANewWindowAfterTheOldOneEnds() {
    AuthFailureLimiter l = limiter(2, 100);
    l.failed("a");
    now.addAndGet(60_000);
    l.failed("a");
    assertThat(l.retryAfterSeconds("a")).as("the first failure is outside the window").isZero();
  }

  @Test
  void shouldKeepAtMostTheConfiguredNumberOfAddressesForgettingTheLeastRecentlySeen() {
    AuthFailureLimiter l = limiter(1, 16);
    l.failed("first");
    for (int i = 0; i < 10_000; i++) {
      l.failed("spoofed-" + i);
    }
    assertThat(l.tracked()).isEqualTo(16);
    assertThat(l.retryAfterSeconds("first")).as("evicted, so it starts over").isZero();
    assertThat(l.retryAfterSeconds("spoofed-9999")).isPositive();
    assertThat(registry.get("gateway.auth.limiter.evictions").counter().count())
        .isEqualTo(10_000 + 1 - 16);
  }

  @Test
  void shouldCountIpv6AddressesPer64AndIpv4PerAddress() {
    assertThat(AuthFailureLimiter.key(SocketAddress.inetSocketAddress(1, "2001:db8:1:2::5")))
        .isEqualTo(
            AuthFailureLimiter.key(SocketAddress.inetSocketAddress(1, "2001:db8:1:2:ffff::1")))
        .isEqualTo("2001:db8:1:2::/64");
    assertThat(AuthFailureLimiter.key(SocketAddress.inetSocketAddress(1, "2001:db8:1:3::5")))
        .isNotEqualTo("2001:db8:1:2::/64");
    assertThat(AuthFailureLimiter.key(SocketAddress.inetSocketAddress(1, "192.0.2.7")))
        .isEqualTo("192.0.2.7");
  }

  @Test
  void shouldNeverRefuseWhenOff() {
    for (int i = 0; i < 100; i++) {
      AuthFailureLimiter.NONE.failed("a");
    }
    assertThat(AuthFailureLimiter.NONE.retryAfterSeconds("a")).isZero();
  }
}
