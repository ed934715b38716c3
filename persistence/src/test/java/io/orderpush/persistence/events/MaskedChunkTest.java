package io.orderpush.persistence.events;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The masked rendering of a chunk stays aligned with its events, line for line. */
class MaskedChunkTest {

  @Test
  void shouldLeaveMaskedOutOfAChunkWithNothingToMask() {
    ChunkBuilder b = new ChunkBuilder();
    b.add(1, "a", null);
    b.add(2, "b", null);
    assertThat(b.chunks()).containsExactly(new ChunkBuilder.Chunk(1, 2, "a\nb", null));
  }

  @Test
  void shouldLeaveTheLinesOfEventsWithNothingToMaskEmptyInAMaskedChunk() {
    ChunkBuilder b = new ChunkBuilder();
    b.add(1, "a", null);
    b.add(2, "b", null);
    b.add(3, "c", "C");
    b.add(4, "d", null);
    b.add(5, "e", "E");
    List<ChunkBuilder.Chunk> chunks = b.chunks();
    assertThat(chunks).hasSize(1);
    assertThat(chunks.get(0).masked()).isEqualTo("\n\nC\n\nE");
    assertThat(chunks.get(0).masked().split("\n", -1)).hasSize(5);
  }

  @Test
  void shouldStartEachSealedChunksMaskedRenderingAfresh() {
    ChunkBuilder b = new ChunkBuilder();
    for (int i = 1; i <= EventLog.CHUNK_MAX_EVENTS + 2; i++) {
      b.add(i, "e" + i, i == 2 ? "M2" : null);
    }
    List<ChunkBuilder.Chunk> chunks = b.chunks();
    assertThat(chunks).hasSize(2);
    assertThat(chunks.get(0).masked().split("\n", -1))
        .hasSize(EventLog.CHUNK_MAX_EVENTS)
        .startsWith("", "M2", "");
    assertThat(chunks.get(1).masked()).isNull();
  }

  @Test
  void shouldStoreAOneEventChunkAsItsLinesWithoutCopyingThem() {
    String line = "{\"seq\":7,\"data\":{\"buyer\":{\"name\":\"张三\"}}}";
    String maskedLine = "{\"seq\":7,\"data\":{\"buyer\":{\"name\":\"张*\"}}}";
    ChunkBuilder b = new ChunkBuilder();
    b.add(7, line, maskedLine);
    ChunkBuilder.Chunk c = b.chunks().get(0);
    assertThat(c.body()).isSameAs(line);
    assertThat(c.masked()).isSameAs(maskedLine);
  }

  @Test
  void shouldSealAChunkBeforeItsTextWouldPassTheBound() {
    ChunkBuilder b = new ChunkBuilder();
    List<String> lines = new java.util.ArrayList<>();
    java.util.Random r = new java.util.Random(3);
    for (int i = 1; i <= 400; i++) {
      String line = "e" + i + "-" + "x".repeat(r.nextInt(4000));
      lines.add(line);
      b.add(i, line, null);
    }
    List<ChunkBuilder.Chunk> chunks = b.chunks();
    assertThat(chunks).hasSizeGreaterThan(1);
    int next = 0;
    for (ChunkBuilder.Chunk c : chunks) {
      int n = (int) (c.last() - c.first() + 1);
      assertThat(c.first()).isEqualTo(next + 1);
      assertThat(c.body()).isEqualTo(String.join("\n", lines.subList(next, next + n)));
      assertThat(c.body().length()).isLessThanOrEqualTo(EventLog.CHUNK_MAX_CHARS);
      if (next + n < lines.size()) {
        assertThat(c.body().length() + lines.get(next + n).length())
            .as("the next line would have passed the bound")
            .isGreaterThan(EventLog.CHUNK_MAX_CHARS);
      }
      next += n;
    }
    assertThat(next).isEqualTo(lines.size());
  }
}
