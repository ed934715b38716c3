package io.orderpush.persistence.redis;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Where cursors live: one Redis, or a Redis Cluster reached through one or more seed nodes.
 *
 * @param urls {@code redis://[:password@]host[:port][/db]}: exactly one for a single Redis; the
 *     cluster's seed nodes (any of its masters) for a cluster
 * @param cluster whether {@code urls} name a Redis Cluster
 * @param commandTimeout how long one Redis command may take before it fails
 */
public record RedisSettings(List<URI> urls, boolean cluster, Duration commandTimeout) {

  /** At most this many seed nodes. */
  public static final int MAX_SEEDS = 64;

  public RedisSettings {
    Objects.requireNonNull(urls, "urls");
    Objects.requireNonNull(commandTimeout, "commandTimeout");
    urls = List.copyOf(urls);
    if (urls.isEmpty()) {
      throw new IllegalArgumentException("no Redis URL");
    }
    if (!cluster && urls.size() > 1) {
      throw new IllegalArgumentException(
          "several URLs name a Redis Cluster's seed nodes: set the cluster flag, or give one URL");
    }
    if (urls.size() > MAX_SEEDS) {
      throw new IllegalArgumentException("at most " + MAX_SEEDS + " seed nodes");
    }
    for (URI url : urls) {
      if (!"redis".equals(url.getScheme()) && !"rediss".equals(url.getScheme())) {
        throw new IllegalArgumentException("scheme must be redis:// or rediss://");
      }
      if (url.getHost() == null) {
        throw new IllegalArgumentException("expected redis://host[:port]");
      }
      if (cluster
          && url.getPath() != null
          && !url.getPath().isEmpty()
          && !url.getPath().equals("/")
          && !url.getPath().equals("/0")) {
        throw new IllegalArgumentException("a Redis Cluster has only database 0");
      }
    }
  }

  /** A single Redis. */
  public RedisSettings(URI url, Duration commandTimeout) {
    this(List.of(url), false, commandTimeout);
  }

  /**
   * {@code value} as configured: one URL, or (cluster) comma-separated seed URLs. Throws {@link
   * IllegalArgumentException} with a message that does not echo the value (it may hold a password).
   */
  public static RedisSettings parse(String value, boolean cluster, Duration commandTimeout) {
    String[] parts = value.split(",", -1);
    if (parts.length > MAX_SEEDS) {
      throw new IllegalArgumentException("at most " + MAX_SEEDS + " seed nodes");
    }
    List<URI> urls = new java.util.ArrayList<>();
    for (String part : parts) {
      if (part.isBlank()) {
        throw new IllegalArgumentException("an empty entry in the list");
      }
      urls.add(URI.create(part.strip()));
    }
    return new RedisSettings(urls, cluster, commandTimeout);
  }

  /** The first URL: the single Redis. */
  public URI url() {
    return urls.get(0);
  }

  /** The URLs without credentials, fit for logs. */
  public String redacted() {
    StringBuilder out = new StringBuilder(cluster ? "cluster " : "");
    for (int i = 0; i < urls.size(); i++) {
      URI url = urls.get(i);
      out.append(i == 0 ? "" : ",")
          .append(url.getScheme())
          .append("://")
          .append(url.getHost())
          .append(':')
          .append(url.getPort() == -1 ? 6379 : url.getPort());
    }
    return out.toString();
  }
}
