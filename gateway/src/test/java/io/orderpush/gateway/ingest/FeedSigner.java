package io.orderpush.gateway.ingest;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.orderpush.persistence.masking.MaskRules;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Makes a commit feed upgrade as a node holding {@code secretKey} would, for tests that stand where
 * a node or an attacker stands: the headers, and the check of the writer's proof.
 */
public final class FeedSigner {

  private final CommitFeed feed;
  private final String nodeId;

  public FeedSigner(byte[] secretKey, String nodeId) {
    this.nodeId = nodeId;
    this.feed =
        new CommitFeed(
            null,
            nodeId,
            null,
            secretKey,
            List.of(),
            Set::of,
            null,
            null,
            MaskRules.defaults().fingerprint(),
            CommitFeedTest.noIngest(),
            new SimpleMeterRegistry());
  }

  public String nonce() {
    return feed.nonce();
  }

  /**
   * The headers of this node's upgrade to {@code writer}, dialled at {@code url}, at {@code time},
   * with {@code nonce}.
   */
  public Map<String, String> upgrade(String writer, String url, long time, String nonce) {
    return upgrade(writer, url, time, nonce, CommitFeedTest.noIngest());
  }

  /** The same, from a node that parses requests under {@code limits}. */
  public Map<String, String> upgrade(
      String writer, String url, long time, String nonce, CommitFeed.Ingest limits) {
    return Map.of(
        CommitFeed.NODE_HEADER,
        nodeId,
        CommitFeed.TIME_HEADER,
        Long.toString(time),
        CommitFeed.NONCE_HEADER,
        nonce,
        CommitFeed.FEED_HEADER,
        CommitFeed.feedHeader(MaskRules.defaults().fingerprint(), limits),
        "Authorization",
        feed.signature(nodeId, writer, url, time, nonce));
  }

  /** The default limits of {@code ingest.*} with {@code ingest.max-data-depth} one deeper. */
  public static CommitFeed.Ingest deeperData() {
    CommitFeed.Ingest l = CommitFeedTest.noIngest();
    return CommitFeedTest.withLimits(l, l.maxEvents(), l.maxRequestBytes(), 0, 1);
  }

  /** Whether the writer's first message, at {@code url}, proves it holds the key. */
  public boolean proves(String message, String writer, String url, String nonce) {
    return feed.proves(message, writer, url, nonce);
  }
}
