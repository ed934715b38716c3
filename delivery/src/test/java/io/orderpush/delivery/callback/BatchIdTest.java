package io.orderpush.delivery.callback;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import org.junit.jupiter.api.Test;

class BatchIdTest {

  static final UUID APP = UUID.fromString("00000000-0000-0000-0000-000000000001");

  @Test
  void shouldKeepTheIdsBatchesAlwaysHadOnAChannelThatNeverStartedAgain() {
    // msg_ + base64url(SHA-256("<app>/<merchant>/<first>-<last>")), 27 characters: the ids sent
    // before rewinds counted (computed apart, with Python's hashlib), so an upgrade changes no id
    assertThat(CallbackEndpoint.batchId(APP, "m-1", 1, 5, 0))
        .isEqualTo("msg_wSwvN14xCaDYsDs1LN3mlf_xhG_");
  }

  @Test
  void shouldGiveTheSameSeqsAnotherIdAfterEachRewind() {
    assertThat(CallbackEndpoint.batchId(APP, "m-1", 1, 5, 1))
        .isEqualTo("msg_qCfqeCNtGztUTqenarFWtE6oP4y");
    assertThat(CallbackEndpoint.batchId(APP, "m-1", 1, 5, 2))
        .isEqualTo("msg_I8DDZHmUy2iNURRA4PQjh0do0en");
  }
}
