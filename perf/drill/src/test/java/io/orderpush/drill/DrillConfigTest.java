package io.orderpush.drill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class DrillConfigTest {

  @Test
  void presetsAndOverrides() {
    DrillConfig tiny = DrillConfig.from(Map.of("DRILL_SCALE", "tiny"));
    assertThat(tiny.scale()).isEqualTo(0.001);
    assertThat(tiny.batch()).isEqualTo(20);

    DrillConfig c =
        DrillConfig.from(
            Map.of(
                "DRILL_SCALE",
                "0.25",
                "DRILL_PEAK_RATE",
                "30000",
                "DRILL_PHASES",
                "1,2,3,4",
                "DRILL_BATCH",
                "500"));
    assertThat(c.scale()).isEqualTo(0.25);
    assertThat(c.peakRate()).isEqualTo(30000);
    assertThat(c.normalS()).isEqualTo(1);
    assertThat(c.tailS()).isEqualTo(4);
    assertThat(c.batch()).isEqualTo(500);
  }

  @Test
  void badSettingsAreRefusedWithTheirName() {
    assertThatThrownBy(() -> DrillConfig.from(Map.of("DRILL_SCALE", "huge")))
        .hasMessageContaining("DRILL_SCALE");
    assertThatThrownBy(() -> DrillConfig.from(Map.of("DRILL_BATCH", "0")))
        .hasMessageContaining("DRILL_BATCH");
    assertThatThrownBy(() -> DrillConfig.from(Map.of("DRILL_PHASES", "1,2")))
        .hasMessageContaining("DRILL_PHASES");
    assertThatThrownBy(() -> DrillConfig.from(Map.of("DRILL_RUN_ID", "a b")))
        .hasMessageContaining("DRILL_RUN_ID");
    assertThatThrownBy(() -> DrillConfig.from(Map.of("DRILL_PEAK_RATE", "-5")))
        .hasMessageContaining("DRILL_PEAK_RATE");
  }

  @Test
  void severalNodesAndAKill() {
    DrillConfig c =
        DrillConfig.from(
            Map.of(
                "GATEWAY_URLS",
                "http://127.0.0.1:1001,http://127.0.0.1:1002, http://127.0.0.1:1003",
                "DRILL_KILL_NODE_AT",
                "15"));
    assertThat(c.gatewayUrls()).hasSize(3);
    assertThat(c.gatewayUrl().getPort()).isEqualTo(1001);
    assertThat(c.killsANode()).isTrue();
    assertThat(c.killNodeAtS()).isEqualTo(15);
    assertThat(c.killNode()).isEqualTo(3);
    assertThat(c.ackSettleMs()).isEqualTo(5000);
    assertThat(DrillConfig.from(Map.of()).killsANode()).isFalse();

    assertThatThrownBy(() -> DrillConfig.from(Map.of("DRILL_KILL_NODE_AT", "15")))
        .hasMessageContaining("several gateway nodes");
    assertThatThrownBy(
            () ->
                DrillConfig.from(
                    Map.of(
                        "GATEWAY_URLS",
                        "http://127.0.0.1:1001,http://127.0.0.1:1002",
                        "DRILL_KILL_NODE_AT",
                        "15",
                        "DRILL_KILL_NODE",
                        "1")))
        .hasMessageContaining("DRILL_KILL_NODE");
  }
}
