package io.orderpush.delivery.callback;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.standardwebhooks.Webhook;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WebhookSignerTest {

  // The example of the Standard Webhooks specification (and its reference libraries' tests).
  static final String SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  static final String SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  static final long SPEC_TIMESTAMP = 1614265330;
  static final String SPEC_PAYLOAD = "{\"test\": 2432232314}";
  static final String SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

  @Test
  void shouldReproduceTheSpecificationsExampleSignature() {
    assertThat(
            WebhookSigner.sign(
                List.of(SPEC_SECRET),
                SPEC_ID,
                SPEC_TIMESTAMP,
                SPEC_PAYLOAD.getBytes(StandardCharsets.UTF_8)))
        .isEqualTo(SPEC_SIGNATURE);
  }

  @Test
  void shouldBeVerifiedByAnIndependentStandardWebhooksLibrary() throws Exception {
    String body = "{\"merchantId\":\"m-1\",\"events\":[{\"seq\":1}]}";
    long now = System.currentTimeMillis() / 1000;
    String header =
        WebhookSigner.sign(
            List.of(SPEC_SECRET), "msg_1", now, body.getBytes(StandardCharsets.UTF_8));
    assertThatCode(
            () ->
                new Webhook(SPEC_SECRET)
                    .verify(
                        body,
                        Map.of(
                            "webhook-id",
                            List.of("msg_1"),
                            "webhook-timestamp",
                            List.of(Long.toString(now)),
                            "webhook-signature",
                            List.of(header))))
        .doesNotThrowAnyException();
  }

  @Test
  void shouldCarryOneSignaturePerSecretDuringRotationEachVerifiable() throws Exception {
    String old = "whsec_" + java.util.Base64.getEncoder().encodeToString(new byte[24]);
    String body = "{}";
    long now = System.currentTimeMillis() / 1000;
    String header =
        WebhookSigner.sign(
            List.of(SPEC_SECRET, old), "msg_2", now, body.getBytes(StandardCharsets.UTF_8));
    assertThat(header.split(" ")).hasSize(2).allMatch(s -> s.startsWith("v1,"));
    for (String secret : List.of(SPEC_SECRET, old)) {
      assertThatCode(
              () ->
                  new Webhook(secret)
                      .verify(
                          body,
                          Map.of(
                              "webhook-id",
                              List.of("msg_2"),
                              "webhook-timestamp",
                              List.of(Long.toString(now)),
                              "webhook-signature",
                              List.of(header))))
          .doesNotThrowAnyException();
    }
  }
}
