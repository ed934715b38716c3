package io.orderpush.persistence.pg;

import io.vertx.pgclient.PgConnectOptions;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;

/**
 * Where the event log lives and how many connections the gateway may hold.
 *
 * @param url {@code postgresql://user[:password]@host[:port]/database}
 * @param poolSize connections shared by reads and admin work
 * @param writers connections dedicated to group-commit ingest lanes
 * @param connectTimeout connect timeout
 * @param queryTimeout longest a statement may run, and longest a request waits for a connection
 */
public record PgSettings(
    URI url, int poolSize, int writers, Duration connectTimeout, Duration queryTimeout) {

  public PgSettings {
    Objects.requireNonNull(url, "url");
    if (!"postgresql".equals(url.getScheme()) && !"postgres".equals(url.getScheme())) {
      throw new IllegalArgumentException("scheme must be postgresql://");
    }
    if (url.getHost() == null || url.getPath() == null || url.getPath().length() < 2) {
      throw new IllegalArgumentException(
          "expected postgresql://user[:password]@host[:port]/database");
    }
    if (url.getRawUserInfo() == null) {
      throw new IllegalArgumentException("a user is required: postgresql://user@host/database");
    }
  }

  public String host() {
    return url.getHost();
  }

  public int port() {
    return url.getPort() == -1 ? 5432 : url.getPort();
  }

  public String database() {
    return url.getPath().substring(1);
  }

  public String user() {
    String info = url.getRawUserInfo();
    int colon = info.indexOf(':');
    return decode(colon < 0 ? info : info.substring(0, colon));
  }

  /** The password from the URL, or an empty string. */
  public String password() {
    String info = url.getRawUserInfo();
    int colon = info.indexOf(':');
    return colon < 0 ? "" : decode(info.substring(colon + 1));
  }

  public String jdbcUrl() {
    return "jdbc:postgresql://" + host() + ":" + port() + "/" + database();
  }

  /** The URL without its password, fit for logs. */
  public String redacted() {
    return "postgresql://" + user() + "@" + host() + ":" + port() + "/" + database();
  }

  public PgConnectOptions connectOptions() {
    return new PgConnectOptions()
        .setHost(host())
        .setPort(port())
        .setDatabase(database())
        .setUser(user())
        .setPassword(password())
        .setCachePreparedStatements(true)
        // Sent as a startup parameter: the server cancels any statement that runs longer,
        // so no request can hang on a stuck query.
        .addProperty("statement_timeout", Long.toString(queryTimeout.toMillis()))
        .setPipeliningLimit(256);
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    return "PgSettings[" + redacted() + ", poolSize=" + poolSize + ", writers=" + writers + "]";
  }
}
