package io.orderpush.gateway.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CommitFeedTest {

  final Vertx vertx = Vertx.vertx();

  CommitFeed feed(String nodeId, byte[] secretKey, byte[]... oldKeys) {
    return new CommitFeed(
        vertx,
        nodeId,
        url(nodeId),
        secretKey,
        List.of(oldKeys),
        Set::of,
        null,
        null,
        "m1-test",
        noIngest(),
        new SimpleMeterRegistry());
  }

  /** Ingest for a feed that is never sent a batch, with the limits a gateway has by default. */
  static CommitFeed.Ingest noIngest() {
    var c =
        io.orderpush.gateway.config.GatewayConfig.load(
            io.orderpush.gateway.config.GatewayConfigTest.valid());
    return new CommitFeed.Ingest(
        events -> io.vertx.core.Future.failedFuture("no ingest here"),
        c.ingest().maxEvents(),
        c.ingest().maxRequestBytes(),
        c.http().maxClientWebSocketMessageBytes(),
        c.ingest().maxDataBytes(),
        c.ingest().maxDataDepth(),
        java.time.Duration.ofSeconds(10));
  }

  /** Where node {@code id} is reached, in these tests. */
  static String url(String id) {
    return "http://" + id + ".example:8080";
  }

  @AfterEach
  void close() {
    vertx.close();
  }

  @Test
  void shouldTellAFollowerThatParsesUnderOtherLimitsFromOneWithOtherRules() {
    CommitFeed.Ingest limits = noIngest();
    String ours = CommitFeed.feedHeader("m1-test", limits);
    List<CommitFeed.Ingest> others =
        List.of(
            withLimits(limits, limits.maxEvents() + 1, limits.maxRequestBytes(), 0, 0),
            withLimits(limits, limits.maxEvents(), limits.maxRequestBytes() - 1, 0, 0),
            withLimits(limits, limits.maxEvents(), limits.maxRequestBytes(), 1, 0),
            withLimits(limits, limits.maxEvents(), limits.maxRequestBytes(), 0, -1));
    for (CommitFeed.Ingest other : others) {
      String theirs = CommitFeed.feedHeader("m1-test", other);
      assertThat(theirs).as("limits %s", other).isNotEqualTo(ours);
      assertThat(CommitFeed.sameUpToLimits(ours, theirs)).as("limits %s", other).isTrue();
    }
    assertThat(CommitFeed.feedHeader("m1-test", noIngest())).isEqualTo(ours);
    assertThat(CommitFeed.sameUpToLimits(ours, CommitFeed.feedHeader("m1-other", limits)))
        .as("other masking rules")
        .isFalse();
    assertThat(CommitFeed.sameUpToLimits(ours, ours.substring(0, ours.lastIndexOf(' '))))
        .as("a node of a layout without limits")
        .isFalse();
  }

  static CommitFeed.Ingest withLimits(
      CommitFeed.Ingest l, int maxEvents, int maxRequestBytes, int moreData, int moreDepth) {
    return new CommitFeed.Ingest(
        l.committer(),
        maxEvents,
        maxRequestBytes,
        l.maxFrameBytes(),
        l.maxDataBytes() + moreData,
        l.maxDataDepth() + moreDepth,
        l.timeout());
  }

  @Test
  void shouldAcceptOnlyASignatureMadeWithTheSameKeyForThatNodeWriterTimeAndNonce() {
    byte[] key = new byte[32];
    CommitFeed writer = feed("w", key);
    CommitFeed follower = feed("f", key);
    long now = 1_800_000_000_000L;
    String nonce = follower.nonce();
    String signed = follower.signature("f", "w", url("w"), now, nonce);
    assertThat(writer.verify("f", "" + now, nonce, signed, now)).isNotNull();
    assertThat(writer.verify("f", "" + now, nonce, signed, now + CommitFeed.CLOCK_SKEW_MS))
        .isNotNull();

    assertThat(writer.verify("f", "" + now, nonce, signed, now + CommitFeed.CLOCK_SKEW_MS + 1))
        .as("too old")
        .isNull();
    assertThat(writer.verify("g", "" + now, nonce, signed, now)).as("another node's name").isNull();
    assertThat(writer.verify("f", "" + (now + 1), nonce, signed, now)).as("another time").isNull();
    assertThat(writer.verify("f", "" + now, follower.nonce(), signed, now))
        .as("another nonce")
        .isNull();
    assertThat(feed("v", key).verify("f", "" + now, nonce, signed, now))
        .as("made for another writer")
        .isNull();
    assertThat(
            writer.verify(
                "f",
                "" + now,
                nonce,
                follower.signature("f", "w", "http://relay.example:8080", now, nonce),
                now))
        .as("made for another address of this writer: an upgrade relayed from elsewhere")
        .isNull();
    byte[] other = new byte[32];
    other[0] = 1;
    assertThat(
            writer.verify(
                "f",
                "" + now,
                nonce,
                feed("f", other).signature("f", "w", url("w"), now, nonce),
                now))
        .as("another cluster's key")
        .isNull();
    assertThat(
            writer.verify(
                "w", "" + now, nonce, writer.signature("w", "w", url("w"), now, nonce), now))
        .as("its own name")
        .isNull();
    assertThat(writer.verify("f", "soon", nonce, signed, now)).isNull();
    assertThat(writer.verify("f", "" + now, nonce, "Node !!!", now)).isNull();
    assertThat(writer.verify("f", "" + now, nonce, signed.substring(5), now)).isNull();
    assertThat(writer.verify(null, "" + now, nonce, signed, now)).isNull();
    assertThat(writer.verify("f", "" + now, null, signed, now)).isNull();
    assertThat(
            writer.verify(
                "f", "" + now, "short", follower.signature("f", "w", url("w"), now, "short"), now))
        .as("a nonce too short to be random")
        .isNull();
  }

  @Test
  void shouldTakeEachNonceOnceAndBoundHowManyItHolds() {
    CommitFeed writer = feed("w", new byte[32]);
    long now = 1_800_000_000_000L;
    String nonce = writer.nonce();
    assertThat(writer.take(nonce, now)).isZero();
    assertThat(writer.take(nonce, now + 1)).as("replayed").isEqualTo(1);
    for (int i = 1; i < CommitFeed.MAX_NONCES; i++) {
      assertThat(writer.take(writer.nonce(), now)).isZero();
    }
    assertThat(writer.take(writer.nonce(), now)).as("full").isEqualTo(-1);
    String newer = writer.nonce();
    long later = now + 2 * CommitFeed.CLOCK_SKEW_MS + 1;
    assertThat(writer.take(nonce, later))
        .as("past twice the skew the old ones are let go (their signatures are too old)")
        .isZero();
    assertThat(writer.take(newer, later)).isZero();
    assertThat(writer.take(newer, later + 1)).as("a nonce taken after the prune").isEqualTo(1);
    assertThat(writer.take(nonce, later + 1)).as("taken again after the prune").isEqualTo(1);
  }

  @Test
  void shouldTakeOnlyTheWritersProofOfThatNonceAndPair() {
    byte[] key = new byte[32];
    CommitFeed follower = feed("f", key);
    String nonce = follower.nonce();
    String proof = CommitFeed.PROOF_PREFIX + CommitFeed.proof(key(key), "w", url("w"), "f", nonce);
    assertThat(follower.proves(proof, "w", url("w"), nonce)).isTrue();
    assertThat(follower.proves(proof, "v", url("w"), nonce)).as("another writer").isFalse();
    assertThat(follower.proves(proof, "w", "http://relay.example:8080", nonce))
        .as("dialled at another address")
        .isFalse();
    assertThat(follower.proves(proof, "w", url("w"), follower.nonce()))
        .as("another nonce")
        .isFalse();
    byte[] other = new byte[32];
    other[0] = 1;
    assertThat(
            follower.proves(
                CommitFeed.PROOF_PREFIX + CommitFeed.proof(key(other), "w", url("w"), "f", nonce),
                "w",
                url("w"),
                nonce))
        .as("another key")
        .isFalse();
    assertThat(
            follower.proves(
                proof.substring(CommitFeed.PROOF_PREFIX.length()), "w", url("w"), nonce))
        .isFalse();
    assertThat(follower.proves("proof ", "w", url("w"), nonce)).isFalse();
  }

  /** The feed key the writer signs its proof with, derived from the secret key. */
  static byte[] key(byte[] secretKey) {
    return CommitFeed.derive(secretKey);
  }

  @Test
  void shouldAcceptFollowersSigningWithTheNewKeyWhileTheWriterHasItAmongItsOldKeys() {
    byte[] current = new byte[32];
    byte[] next = new byte[32];
    next[31] = 7;
    long now = 1_800_000_000_000L;
    CommitFeed follower = feed("f", next);
    String nonce = follower.nonce();
    String signedWithNext = follower.signature("f", "w", url("w"), now, nonce);
    byte[] used = feed("w", current, next).verify("f", "" + now, nonce, signedWithNext, now);
    assertThat(used).as("the key the writer proves itself with").isEqualTo(key(next));
    assertThat(feed("w", current).verify("f", "" + now, nonce, signedWithNext, now)).isNull();
  }
}
