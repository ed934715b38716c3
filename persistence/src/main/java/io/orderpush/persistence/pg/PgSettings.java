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
 * @param writers connections dedicated to ingest, one per group-commit transaction in flight
 * @param connectTimeout connect timeout
 * @param queryTimeout longest a statement may run, and longest a request waits for a connection
 * @param clientTimeout longest a connection may stay silent before the gateway closes it; longer
 *     than {@code queryTimeout} by at least {@link #MIN_CLIENT_TIMEOUT_MARGIN}, so a slow statement
 *     ends with the server's own timeout error and only a silent server is cut off
 */
public record PgSettings(
    URI url,
    int poolSize,
    int writers,
    Duration connectTimeout,
    Duration queryTimeout,
    Duration clientTimeout) {

  /** How much longer than the statement timeout the client timeout must be, at least. */
  public static final Duration MIN_CLIENT_TIMEOUT_MARGIN = Duration.ofSeconds(1);

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
    if (clientTimeout.compareTo(queryTimeout.plus(MIN_CLIENT_TIMEOUT_MARGIN)) < 0) {
      throw new IllegalArgumentException(
          "the client timeout ("
              + clientTimeout.toMillis()
              + " ms) must be at least "
              + MIN_CLIENT_TIMEOUT_MARGIN.toMillis()
              + " ms longer than the query timeout ("
              + queryTimeout.toMillis()
              + " ms)");
    }
  }

  /**
   * How long a pooled connection may sit unused before the pool closes it. A connection is closed
   * once it has received nothing for {@link #clientTimeout()}, and that clock starts at its last
   * answer, not when it is borrowed: so idle connections must leave the pool early enough that a
   * statement on a borrowed one still gets more than {@link #queryTimeout()} before the cut. Half
   * the margin for idling, a quarter for the pool's eviction sweep, a quarter to spare.
   */
  public Duration poolIdleTimeout() {
    return clientTimeout.minus(queryTimeout).dividedBy(2);
  }

  /** How often the pool sweeps out connections idle longer than {@link #poolIdleTimeout()}. */
  public Duration poolCleanerPeriod() {
    Duration quarter = clientTimeout.minus(queryTimeout).dividedBy(4);
    return quarter.compareTo(Duration.ofSeconds(1)) < 0 ? quarter : Duration.ofSeconds(1);
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
        // A client that vanished mid-transaction (its connection cut by the client timeout, or
        // its host gone) would otherwise leave the server holding the transaction's row locks,
        // blocking every later commit of the same merchants. The gateway never idles inside a
        // transaction, so the server may end any that does.
        .addProperty("idle_in_transaction_session_timeout", Long.toString(clientTimeout.toMillis()))
        .setPipeliningLimit(256);
  }

  private static String decode(String s) {
    // percent-decoding only: a '+' in a URL's user info is a plus, not a space (form encoding)
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    return "PgSettings[" + redacted() + ", poolSize=" + poolSize + ", writers=" + writers + "]";
  }
}
