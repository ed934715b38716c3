package io.orderpush.delivery.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SsrfGuardTest {

  static Vertx vertx;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stop() {
    vertx.close();
  }

  static Throwable refusal(SsrfGuard guard, String url) {
    try {
      guard
          .check(url)
          .toCompletionStage()
          .toCompletableFuture()
          .orTimeout(10, TimeUnit.SECONDS)
          .join();
      return null;
    } catch (CompletionException e) {
      return e.getCause();
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://127.0.0.1/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/x",
        "http://localhost/x",
        "https://192.168.1.10/x",
        "http://172.16.0.1/x",
        "http://0.0.0.0/x",
        "http://[fd00::1]/x",
        "http://100.64.0.1/x",
        "http://224.0.0.1/x",
        "http://[fe80::1]/x",
        "http://[::ffff:127.0.0.1]/x"
      })
  void shouldRefusePrivateLoopbackLinkLocalAndUnspecifiedAddresses(String url) {
    assertThat(refusal(new SsrfGuard(vertx, Allowlist.parse("")), url))
        .isInstanceOf(CallbackUrlRefusedException.class);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"http://127.0.0.1/x", "http://10.0.0.1/x", "http://localhost/x", "http://[::1]/x"})
  void shouldAllowWhatTheAllowlistNames(String url) {
    Allowlist allow = Allowlist.parse("127.0.0.0/8, 10.0.0.1, localhost, ::1");
    assertThat(refusal(new SsrfGuard(vertx, allow), url)).isNull();
  }

  @ParameterizedTest
  @ValueSource(strings = {"ftp://8.8.8.8/x", "file:///etc/passwd", "http:///nohost"})
  void shouldRefuseAnythingButHttpWithAHost(String url) {
    assertThat(refusal(new SsrfGuard(vertx, Allowlist.parse("")), url))
        .isInstanceOf(CallbackUrlRefusedException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"http://8.8.8.8/x", "https://[2001:4860:4860::8888]/x"})
  void shouldAllowPublicAddresses(String url) {
    assertThat(refusal(new SsrfGuard(vertx, Allowlist.parse("")), url)).isNull();
  }

  @ParameterizedTest
  @ValueSource(strings = {"10.0.0.0/33", "not a host!", "1.2.3.4/x"})
  void shouldRejectABadAllowlist(String spec) {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Allowlist.parse(spec))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
