package io.orderpush.client;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Against the example of the Standard Webhooks specification. */
class WebhookVerifierTest {

  static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  static final String ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  static final long TS = 1614265330;
  static final byte[] BODY = "{\"test\": 2432232314}".getBytes(StandardCharsets.UTF_8);
  static final String SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

  static WebhookVerifier at(long now, String... secrets) {
    return new WebhookVerifier(
        List.of(secrets),
        Duration.ofMinutes(5),
        Clock.fixed(Instant.ofEpochSecond(now), ZoneOffset.UTC));
  }

  static Map<String, Object> headers(String signature) {
    return Map.of(
        "Webhook-Id",
        List.of(ID),
        "webhook-timestamp",
        Long.toString(TS),
        "webhook-signature",
        signature);
  }

  @Test
  void shouldAcceptTheSpecificationsExample() {
    assertThatCode(() -> at(TS, SECRET).verify(BODY, headers(SIGNATURE)))
        .doesNotThrowAnyException();
  }

  @Test
  void shouldAcceptAnyOfSeveralSignatures() {
    assertThatCode(
            () ->
                at(TS, SECRET)
                    .verify(BODY, headers("v1,bm90IGl0 v2,xyz " + SIGNATURE + " v1,!!notbase64")))
        .doesNotThrowAnyException();
  }

  @Test
  void shouldRefuseATamperedBody() {
    byte[] body = "{\"test\": 2432232315}".getBytes(StandardCharsets.UTF_8);
    assertThatThrownBy(() -> at(TS, SECRET).verify(body, headers(SIGNATURE)))
        .isInstanceOf(WebhookVerificationException.class);
  }

  @Test
  void shouldRefuseTimestampsOutsideTheTolerance() {
    assertThatThrownBy(() -> at(TS + 301, SECRET).verify(BODY, headers(SIGNATURE)))
        .hasMessageContaining("tolerance");
    assertThatThrownBy(() -> at(TS - 301, SECRET).verify(BODY, headers(SIGNATURE)))
        .hasMessageContaining("tolerance");
  }

  @Test
  void shouldRefuseAWrongSecretUnlessTheRightOneIsAlsoGiven() {
    String other = "whsec_" + java.util.Base64.getEncoder().encodeToString(new byte[24]);
    assertThatThrownBy(() -> at(TS, other).verify(BODY, headers(SIGNATURE)))
        .isInstanceOf(WebhookVerificationException.class);
    assertThatCode(() -> at(TS, other, SECRET).verify(BODY, headers(SIGNATURE)))
        .doesNotThrowAnyException();
  }
}
