package io.orderpush.gateway.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.orderpush.persistence.masking.MaskRules;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MaskingConfigTest {

  @Test
  void shouldMaskTheDefaultPathsWhenNothingIsConfigured() {
    GatewayConfig c = GatewayConfig.load(GatewayConfigTest.valid());
    assertThat(c.masking().canonical()).isEqualTo(MaskRules.defaults().canonical());
  }

  @Test
  void shouldReadThePathListFromTheEnvironment() {
    Map<String, String> env = GatewayConfigTest.valid();
    env.put("GATEWAY_MASKING_PATHS", "customer.tel, memo:name");
    assertThat(GatewayConfig.load(env).masking().canonical())
        .isEqualTo("customer.tel:phone,memo:name");
  }

  @Test
  void shouldStopStartupNamingTheKeyAndTheBadPath() {
    Map<String, String> env = GatewayConfigTest.valid();
    env.put("GATEWAY_MASKING_PATHS", "buyer.phone,buyer..name");
    ConfigException e = catchThrowableOfType(ConfigException.class, () -> GatewayConfig.load(env));
    assertThat(e.getMessage())
        .contains("masking.paths (GATEWAY_MASKING_PATHS)")
        .contains("'buyer..name'");
  }
}
