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
        secretKey,
        List.of(oldKeys),
        Set::of,
        null,
        null,
        "m1-test",
        new SimpleMeterRegistry());
  }

  @AfterEach
  void close() {
    vertx.close();
  }

  @Test
  void shouldAcceptOnlyASignatureMadeWithTheSameSecretKeyForThatNodeAndTime() {
    byte[] key = new byte[32];
    CommitFeed writer = feed("w", key);
    CommitFeed follower = feed("f", key);
    long now = 1_800_000_000_000L;
    String signed = follower.signature("f", now);
    assertThat(writer.valid("f", "" + now, signed, now)).isTrue();
    assertThat(writer.valid("f", "" + now, signed, now + CommitFeed.CLOCK_SKEW_MS)).isTrue();

    assertThat(writer.valid("f", "" + now, signed, now + CommitFeed.CLOCK_SKEW_MS + 1))
        .as("too old")
        .isFalse();
    assertThat(writer.valid("g", "" + now, signed, now)).as("another node's name").isFalse();
    assertThat(writer.valid("f", "" + (now + 1), signed, now)).as("another time").isFalse();
    byte[] other = new byte[32];
    other[0] = 1;
    assertThat(writer.valid("f", "" + now, feed("f", other).signature("f", now), now))
        .as("another cluster's key")
        .isFalse();
    assertThat(writer.valid("w", "" + now, writer.signature("w", now), now))
        .as("its own name")
        .isFalse();
    assertThat(writer.valid("f", "soon", signed, now)).isFalse();
    assertThat(writer.valid("f", "" + now, "Node !!!", now)).isFalse();
    assertThat(writer.valid("f", "" + now, signed.substring(5), now)).isFalse();
    assertThat(writer.valid(null, "" + now, signed, now)).isFalse();
  }

  @Test
  void shouldAcceptFollowersSigningWithTheNewKeyWhileTheWriterHasItAmongItsOldKeys() {
    byte[] current = new byte[32];
    byte[] next = new byte[32];
    next[31] = 7;
    long now = 1_800_000_000_000L;
    String signedWithNext = feed("f", next).signature("f", now);
    assertThat(feed("w", current, next).valid("f", "" + now, signedWithNext, now)).isTrue();
    assertThat(feed("w", current).valid("f", "" + now, signedWithNext, now)).isFalse();
  }
}
