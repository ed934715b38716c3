package io.orderpush.gateway.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

public class GatewayConfigTest {

  /** The least environment a gateway starts with: the defaults and the required secrets. */
  public static Map<String, String> valid() {
    Map<String, String> env = new HashMap<>();
    env.put("GATEWAY_ADMIN_TOKEN", "a".repeat(24));
    env.put("GATEWAY_INGEST_TOKEN", "i".repeat(24));
    env.put("GATEWAY_SECRET_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    return env;
  }

  @Test
  void shouldUseDefaultsOverriddenByEnvironment() {
    Map<String, String> env = valid();
    env.put("GATEWAY_HTTP_PORT", "9090");
    env.put("GATEWAY_PG_URL", "postgresql://u:p%40ss@db.internal:6432/events");
    GatewayConfig c = GatewayConfig.load(env);
    assertThat(c.http().port()).isEqualTo(9090);
    assertThat(c.ingest().maxEvents()).isEqualTo(1000);
    assertThat(c.ingest().maxRequestBytes()).isEqualTo(4 * 1024 * 1024);
    assertThat(c.ingest().maxDataBytes()).isEqualTo(64 * 1024);
    assertThat(c.pg().host()).isEqualTo("db.internal");
    assertThat(c.pg().port()).isEqualTo(6432);
    assertThat(c.pg().password()).isEqualTo("p@ss");
    assertThat(c.pg().toString()).doesNotContain("p@ss");
    assertThat(c.redis().url().getPort()).isEqualTo(6379);
    // percent-decoding only: a plus is a plus (scripts/services.sh sets it so)
    env.put("GATEWAY_PG_URL", "postgresql://u:a+b%2Bc@db.internal/events");
    assertThat(GatewayConfig.load(env).pg().password()).isEqualTo("a+b+c");
  }

  @Test
  void shouldStartOneEventLoopPerCoreUnlessToldAndRefuseANegativeCount() {
    assertThat(GatewayConfig.load(valid()).http().eventLoopThreads())
        .isEqualTo(Runtime.getRuntime().availableProcessors());
    Map<String, String> env = valid();
    env.put("GATEWAY_HTTP_EVENT_LOOPS", "3");
    assertThat(GatewayConfig.load(env).http().eventLoopThreads()).isEqualTo(3);
    env.put("GATEWAY_HTTP_EVENT_LOOPS", "-1");
    assertThat(catchThrowableOfType(ConfigException.class, () -> GatewayConfig.load(env)))
        .hasMessageContaining(
            "http.event-loops (GATEWAY_HTTP_EVENT_LOOPS) must be an integer from 0 to 64");
  }

  @Test
  void shouldNameEveryBadKeyAndWhatItAllowsWithoutEchoingSecrets() {
    Map<String, String> env = valid();
    env.put("GATEWAY_HTTP_PORT", "eighty");
    env.put("GATEWAY_PG_URL", "mysql://x@y/z");
    env.put("GATEWAY_INGEST_MAX_EVENTS", "0");
    env.remove("GATEWAY_ADMIN_TOKEN");
    env.put("GATEWAY_SECRET_KEY", "short-secret");
    ConfigException e = catchThrowableOfType(ConfigException.class, () -> GatewayConfig.load(env));
    assertThat(e.problems()).hasSize(5);
    assertThat(e.getMessage())
        .contains("http.port (GATEWAY_HTTP_PORT) must be an integer from 0 to 65535, was 'eighty'")
        .contains("pg.url (GATEWAY_PG_URL) must be postgresql://")
        .contains(
            "ingest.max-events (GATEWAY_INGEST_MAX_EVENTS) must be an integer from 1 to 100000")
        .contains("admin.token (GATEWAY_ADMIN_TOKEN) is required")
        .contains("secret.key (GATEWAY_SECRET_KEY) is required")
        .doesNotContain("short-secret");
  }

  @Test
  void shouldStartWithOnlyTheVariablesProductMdListsDerivingTheKeyFromTheAdminToken() {
    Map<String, String> env = new HashMap<>();
    env.put("GATEWAY_PG_URL", "postgresql://gw@127.0.0.1:5432/gw");
    env.put("GATEWAY_REDIS_URL", "redis://127.0.0.1:6379");
    env.put("GATEWAY_ADMIN_TOKEN", "admin");
    env.put("GATEWAY_INGEST_TOKEN", "ingest");
    GatewayConfig c = GatewayConfig.load(env);
    assertThat(c.security().keyDerived()).isTrue();
    assertThat(c.security().shortTokens()).isTrue();
    assertThat(c.security().secretKey())
        .hasSize(32)
        .isEqualTo(SecurityConfig.deriveKey("admin"))
        .as("every node and restart with that token")
        .isEqualTo(GatewayConfig.load(env).security().secretKey())
        .isNotEqualTo(SecurityConfig.deriveKey("admin2"));
    assertThat(c.pg().password()).isEmpty();

    // with a key of its own, what was sealed under the derived one can still be opened
    GatewayConfig own = GatewayConfig.load(valid());
    assertThat(own.security().keyDerived()).isFalse();
    assertThat(own.security().shortTokens()).isFalse();
    assertThat(own.security().secretOpeningKeys())
        .anySatisfy(k -> assertThat(k).isEqualTo(SecurityConfig.deriveKey("a".repeat(24))));
    assertThat(own.security().oldSecretKeys())
        .as("the feed's keys: nothing computable from the admin token")
        .isEmpty();
  }

  @Test
  void shouldUseTheLocalClusterOfTheServicesScriptWhenNoSeedsAreGiven() {
    Map<String, String> env = valid();
    env.put("GATEWAY_REDIS_CLUSTER", "true");
    assertThat(GatewayConfig.load(env).redis().urls())
        .extracting(java.net.URI::getPort)
        .containsExactly(7000, 7001, 7002);
    env.put("GATEWAY_REDIS_URL", "redis://10.0.0.5:7100");
    assertThat(GatewayConfig.load(env).redis().urls())
        .extracting(java.net.URI::getPort)
        .containsExactly(7100);
  }

  @Test
  void shouldRefuseTheSameTokenForOperatorsAndIngest() {
    Map<String, String> env = valid();
    env.put("GATEWAY_INGEST_TOKEN", env.get("GATEWAY_ADMIN_TOKEN"));
    assertThat(
            catchThrowableOfType(ConfigException.class, () -> GatewayConfig.load(env)).getMessage())
        .contains("must differ");
  }

  @Test
  void shouldGivePostgresqlClientTimeoutAMarginOverTheStatementTimeout() {
    GatewayConfig c = GatewayConfig.load(valid());
    assertThat(c.pg().queryTimeout()).hasMillis(10_000);
    assertThat(c.pg().clientTimeout()).hasMillis(15_000);
    // Idle connections leave the pool, with its sweep, before a borrowed one could lose its
    // statement's full time to the silence cut.
    assertThat(c.pg().poolIdleTimeout().plus(c.pg().poolCleanerPeriod()))
        .isLessThan(c.pg().clientTimeout().minus(c.pg().queryTimeout()));
  }

  @Test
  void shouldRefuseAClientTimeoutThatDoesNotOutlastTheStatementTimeout() {
    Map<String, String> env = valid();
    env.put("GATEWAY_PG_QUERY_TIMEOUT_MS", "10000");
    env.put("GATEWAY_PG_CLIENT_TIMEOUT_MS", "10500");
    ConfigException e = catchThrowableOfType(ConfigException.class, () -> GatewayConfig.load(env));
    assertThat(e.problems())
        .containsExactly(
            "pg.client-timeout-ms (GATEWAY_PG_CLIENT_TIMEOUT_MS) must be at least 1000 ms longer"
                + " than pg.query-timeout-ms (10000), was 10500");
  }

  @Test
  void shouldReadOldSecretKeysAndNameABadOneByPositionWithoutEchoingIt() {
    Map<String, String> env = valid();
    String old = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=";
    env.put("GATEWAY_SECRET_KEYS_OLD", old + ", " + old);
    assertThat(GatewayConfig.load(env).security().oldSecretKeys()).hasSize(2);
    // and, for secrets only (never the commit feed), the key derived from the admin token
    assertThat(GatewayConfig.load(env).security().secretOpeningKeys()).hasSize(3);
    env.put("GATEWAY_SECRET_KEYS_OLD", old + ",not-a-key-but-secret-looking");
    ConfigException e = catchThrowableOfType(ConfigException.class, () -> GatewayConfig.load(env));
    assertThat(e.problems())
        .containsExactly(
            "secret.keys-old (GATEWAY_SECRET_KEYS_OLD): entry 2 of 2 is not 32 bytes,"
                + " base64-encoded");
    assertThat(e.getMessage()).doesNotContain(old).doesNotContain("secret-looking");
  }

  @Test
  void shouldRefuseALogFormatOtherThanTextOrJson() {
    Map<String, String> env = valid();
    env.put("GATEWAY_LOG_FORMAT", "xml");
    ConfigException e = catchThrowableOfType(ConfigException.class, () -> GatewayConfig.load(env));
    assertThat(e).hasMessageContaining("GATEWAY_LOG_FORMAT").hasMessageContaining("text or json");
    env.put("GATEWAY_LOG_FORMAT", "json");
    assertThat(GatewayConfig.load(env)).isNotNull();
  }

  @Test
  void shouldReadTheLeaseAndClusterNameAndRefuseBadOnes() {
    Map<String, String> env = valid();
    GatewayConfig c = GatewayConfig.load(env);
    assertThat(c.cluster().lease()).isEqualTo(java.time.Duration.ofSeconds(10));
    assertThat(c.cluster().renewEvery().toMillis()).isEqualTo(2500);
    assertThat(c.cluster().ttl().toMillis()).as("heartbeat valid in Redis").isEqualTo(8500);
    assertThat(c.cluster().ttl().minus(c.cluster().margin()).toMillis())
        .as("the node stops on its own after")
        .isEqualTo(6500);
    assertThat(c.cluster().name()).isEqualTo("gw");
    assertThat(c.cluster().nodeId()).isEqualTo(c.control().nodeId());
    env.put("GATEWAY_NODE_LEASE_MS", "500");
    env.put("GATEWAY_CLUSTER_NAME", "has space");
    ConfigException e = catchThrowableOfType(ConfigException.class, () -> GatewayConfig.load(env));
    assertThat(e.problems()).hasSize(2);
    assertThat(e.getMessage())
        .contains("node.lease-ms (GATEWAY_NODE_LEASE_MS)")
        .contains("cluster.name (GATEWAY_CLUSTER_NAME)");
  }

  @Test
  void shouldAdvertiseTheHttpAddressUnlessToldAndRefuseBadUrls() {
    Map<String, String> env = valid();
    env.put("GATEWAY_HTTP_HOST", "0.0.0.0");
    env.put("GATEWAY_HTTP_PORT", "8123");
    GatewayConfig c = GatewayConfig.load(env);
    assertThat(c.forward().enabled()).isTrue();
    assertThat(c.forward().advertiseUrl()).isEqualTo("http://127.0.0.1:8123");
    env.put("GATEWAY_NODE_ADVERTISE_URL", "https://gw-2.internal:8443");
    env.put("GATEWAY_INGEST_FORWARD", "false");
    c = GatewayConfig.load(env);
    assertThat(c.forward().advertiseUrl()).isEqualTo("https://gw-2.internal:8443");
    assertThat(c.forward().enabled()).isFalse();
    env.put("GATEWAY_NODE_ADVERTISE_URL", "gw-2.internal/path");
    ConfigException e = catchThrowableOfType(ConfigException.class, () -> GatewayConfig.load(env));
    assertThat(e.getMessage()).contains("node.advertise-url (GATEWAY_NODE_ADVERTISE_URL)");
  }
}
