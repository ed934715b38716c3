package io.orderpush.delivery.callback;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CallbackUrlTest {

  static CallbackUrlRefusedException refused(String url) {
    return catchThrowableOfType(CallbackUrlRefusedException.class, () -> CallbackUrl.parse(url));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "http://8.8.8.8:0/x | port 0",
        "http://8.8.8.8:65536/x | port 65536",
        "http://hooks.example.com:99999999999/x | port 99999999999",
        "ftp://8.8.8.8/x | http:// or https://",
        "HTTPS://8.8.8.8/x | http:// or https://",
        "http:8.8.8.8 | must name a host",
        "http:///x | must name a host",
        "http://:80/x | must name a host",
        "http://user:pw@8.8.8.8/x | user info",
        "http://a_b.example.com/x | host a_b.example.com",
        "http://-a.example.com/x | host -a.example.com",
        "http://a..b/x | host a..b",
        "http://8.8.8.8/a b | printable ASCII",
        "http://8.8.8.8/\u00e4 | printable ASCII",
        "http://b\u00fccher.example/x | punycode",
        "http://8.8.8.8/\ud800 | printable ASCII",
        "http://[v1.x]/ | is not a URL",
        "http://[::1/ | is not a URL"
      })
  void shouldRefuseWhatIsNotACallbackUrlAsMalformedWithThePreciseProblem(
      String url, String problem) {
    CallbackUrlRefusedException e = refused(url);
    assertThat(e).as(url).isNotNull();
    assertThat(e.malformed()).as(url).isTrue();
    assertThat(e.getMessage()).as(url).contains(problem);
  }

  @Test
  void shouldRefuseHostNamesLongerThanDnsAllows() {
    String label = "a".repeat(63);
    assertThat(
            refused("https://" + String.join(".", label, label, label, label) + ".com/")
                .getMessage())
        .contains("at most 253");
    assertThat(refused("https://" + "a".repeat(64) + ".com/").getMessage()).contains("at most 63");
  }

  @Test
  void shouldRefuseNumericFormsAndZoneIdsAsRefusedHostsNotAsMalformedUrls() {
    assertThat(refused("http://127.1/x").malformed()).isFalse();
    assertThat(refused("http://0x7f000001/x").malformed()).isFalse();
    assertThat(refused("http://[::1%25eth0]/x").malformed()).isFalse();
  }

  @Test
  void shouldKeepAValidUrlWithItsDefaultOrExplicitPort() {
    assertThat(CallbackUrl.parse("https://hooks.example.com/a?b=c").port()).isEqualTo(443);
    assertThat(CallbackUrl.parse("http://hooks.example.com./a").port()).isEqualTo(80);
    CallbackUrl v6 = CallbackUrl.parse("https://[2001:db8::1]:8443/a");
    assertThat(v6.host()).isEqualTo("[2001:db8::1]");
    assertThat(v6.port()).isEqualTo(8443);
    assertThat(v6.https()).isTrue();
  }
}
