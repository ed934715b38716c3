package io.orderpush.persistence.redis;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * Where cursors live.
 *
 * @param url {@code redis://[:password@]host[:port][/db]}
 * @param commandTimeout how long one Redis command may take before it fails
 */
public record RedisSettings(URI url, Duration commandTimeout) {

  public RedisSettings {
    Objects.requireNonNull(url, "url");
    if (!"redis".equals(url.getScheme()) && !"rediss".equals(url.getScheme())) {
      throw new IllegalArgumentException("scheme must be redis:// or rediss://");
    }
    if (url.getHost() == null) {
      throw new IllegalArgumentException("expected redis://host[:port]");
    }
  }

  /** The URL without credentials, fit for logs. */
  public String redacted() {
    return url.getScheme()
        + "://"
        + url.getHost()
        + ":"
        + (url.getPort() == -1 ? 6379 : url.getPort());
  }
}
