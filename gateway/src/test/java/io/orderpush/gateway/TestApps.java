package io.orderpush.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.net.http.HttpResponse;
import java.util.Collection;
import java.util.UUID;

/** Apps for tests: created through the operator API, removed row and all afterwards. */
public final class TestApps {

  private TestApps() {}

  /** An app as created: its id, token and webhook secret (shown once). */
  public record Created(String appId, String token, String webhookSecret) {}

  /** Creates an app ({@code url} null for a WebSocket app) and fails the test unless it is 201. */
  public static Created create(TestGateway gw, String name, String url) {
    JsonObject delivery =
        url == null
            ? new JsonObject().put("mode", "websocket")
            : new JsonObject().put("mode", "callback").put("url", url);
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject().put("name", name).put("delivery", delivery).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    return new Created(
        app.getString("appId"), app.getString("token"), app.getString("webhookSecret"));
  }

  /** Grants {@code merchant} to the app with the grant body given, failing unless it is 200. */
  public static void grant(TestGateway gw, String merchant, String appId, String body) {
    HttpResponse<String> r =
        gw.send(
            "PUT", "/v1/merchants/" + merchant + "/grants/" + appId, TestGateway.ADMIN_TOKEN, body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  /** Revokes the app's grant of the merchant and fails the test unless it is 204. */
  public static void revoke(TestGateway gw, String merchant, String appId) {
    HttpResponse<String> r =
        gw.send(
            "DELETE",
            "/v1/merchants/" + merchant + "/grants/" + appId,
            TestGateway.ADMIN_TOKEN,
            null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(204);
  }

  /** Freezes the app and fails the test unless it is 200. */
  public static void freeze(TestGateway gw, String appId) {
    HttpResponse<String> r =
        gw.send("POST", "/v1/apps/" + appId + "/freeze", TestGateway.ADMIN_TOKEN, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  /**
   * Rotates the app's token and fails the test unless it is 200; returns the answer ({@code token},
   * {@code previousTokenValidUntil}).
   */
  public static io.vertx.core.json.JsonObject rotateToken(TestGateway gw, String appId) {
    HttpResponse<String> r =
        gw.send("POST", "/v1/apps/" + appId + "/token/rotate", TestGateway.ADMIN_TOKEN, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new io.vertx.core.json.JsonObject(r.body());
  }

  /**
   * Removes the apps' rows (their grants and checkpoints go with them) straight in PostgreSQL, for
   * a test whose gateway has stopped or runs as a process. An app left behind is loaded by every
   * later gateway on the test database, in this run and the next ones: its callbacks retried to a
   * receiver long gone, its channels claimed and released at each start and stop.
   */
  public static void deleteRows(Collection<String> appIds) {
    if (appIds.isEmpty()) {
      return;
    }
    io.orderpush.persistence.pg.PgSettings pg = io.orderpush.persistence.testing.TestServices.pg();
    try (java.sql.Connection c =
            java.sql.DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        java.sql.PreparedStatement st =
            c.prepareStatement("DELETE FROM apps WHERE app_id = ANY(?)")) {
      st.setArray(1, c.createArrayOf("uuid", appIds.stream().map(UUID::fromString).toArray()));
      st.executeUpdate();
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException("removing the test's apps " + appIds, e);
    }
  }

  /** Removes the apps' rows (their grants and checkpoints go with them). */
  public static void deleteRows(TestGateway gw, Collection<String> appIds) {
    for (String id : appIds) {
      gw.gateway
          .pool()
          .preparedQuery("DELETE FROM apps WHERE app_id = $1")
          .execute(Tuple.of(UUID.fromString(id)))
          .toCompletionStage()
          .toCompletableFuture()
          .join();
    }
  }
}
