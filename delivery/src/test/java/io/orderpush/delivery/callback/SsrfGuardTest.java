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
  @ValueSource(
      strings = {
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "64:ff9b:1::808:808",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        "::7f00:1",
        "::808:808",
        "198.18.0.1",
        "198.19.255.255",
        "192.0.0.170",
        "240.0.0.1",
        "255.255.255.255",
        "fec0::1",
        "ff02::1"
      })
  void shouldRefuseSpecialPurposeRangesAndIpv6FormsCarryingAPrivateIpv4(String literal)
      throws Exception {
    assertThat(SsrfGuard.forbidden(java.net.InetAddress.getByName(literal)))
        .as(literal)
        .isNotNull();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "64:ff9b::808:808",
        "2002:808:808::1",
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        "198.17.255.255",
        "198.20.0.1",
        "192.0.1.1",
        "2606:4700::1111"
      })
  void shouldAllowPublicAddressesIncludingIpv6FormsCarryingAPublicIpv4(String literal)
      throws Exception {
    assertThat(SsrfGuard.forbidden(java.net.InetAddress.getByName(literal))).as(literal).isNull();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://0x7f000001/x",
        "http://0X7F.0.0.1/x",
        "http://0177.0.0.1/x",
        "http://127.1/x",
        "http://127.0.1/x",
        "http://2130706433/x",
        "http://8.8.8.8./x",
        "http://1.2.3.4.5/x",
        "http://example.123/x",
        "http://08.8.8.8/x"
      })
  void shouldRefuseNumericHostFormsOtherResolversReadDifferentlyWithoutALookup(String url) {
    Throwable refused = refusal(new SsrfGuard(vertx, Allowlist.parse("")), url);
    assertThat(refused).as(url).isInstanceOf(CallbackUrlRefusedException.class);
    assertThat(refused.getMessage()).contains("numeric form");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://[::1%25eth0]/x",
        "http://[::1%eth0]/x",
        "http://[2001:4860:4860::8888%25lo]/x",
        "http://[fe80::1%1]/x"
      })
  void shouldRefuseIpv6ZoneIdsAsARefusalNotAnException(String url) {
    Throwable refused = refusal(new SsrfGuard(vertx, Allowlist.parse("::/0")), url);
    assertThat(refused).as(url).isInstanceOf(CallbackUrlRefusedException.class);
    assertThat(refused.getMessage()).contains("zone id");
  }

  @org.junit.jupiter.api.Test
  void shouldRefuseAHostThatDoesNotResolve() {
    Throwable refused =
        refusal(new SsrfGuard(vertx, Allowlist.parse("")), "https://no-such-host.invalid/x");
    assertThat(refused).isInstanceOf(CallbackUrlRefusedException.class);
    assertThat(refused.getMessage()).contains("does not resolve");
  }

  @ParameterizedTest
  @ValueSource(strings = {"[::1%25eth0]", "0x7f000001", "999.1.1.1", "[::1", "", "a..b"})
  void shouldAnswerEveryHostAtDeliveryWithAFutureNeverAnException(String host) {
    SsrfGuard guard = new SsrfGuard(vertx, Allowlist.parse(""));
    Throwable refused;
    try {
      guard
          .resolve(host)
          .toCompletionStage()
          .toCompletableFuture()
          .orTimeout(10, TimeUnit.SECONDS)
          .join();
      refused = null;
    } catch (CompletionException e) {
      refused = e.getCause();
    }
    assertThat(refused).as(host).isInstanceOf(CallbackUrlRefusedException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"10.0.0.0/33", "not a host!", "1.2.3.4/x"})
  void shouldRejectABadAllowlist(String spec) {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Allowlist.parse(spec))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
