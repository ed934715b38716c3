package io.orderpush.persistence.events;

import java.util.ArrayList;
import java.util.List;

/**
 * Packs one merchant's consecutive events of a group commit into bounded NDJSON chunks, with what
 * the masked rendering needs beside: line i of {@code masked} is, for event i, its {@link
 * MaskPatch} (the usual case), its masked line whole (starting with <code>{</code>: a rendering a
 * patch could not express), or empty when it has nothing to mask; {@code masked} is null when no
 * event of the chunk has anything to mask. The log marks such chunks {@link EventLog#PATCHED}.
 */
final class ChunkBuilder {

  record Chunk(long first, long last, String body, String masked) {}

  private final List<Chunk> done = new ArrayList<>(1);

  /**
   * The lines of the chunk being filled, joined once when it is sealed: a chunk of one event (the
   * usual case, a merchant's share of a group) is its line itself, and a longer one is written in
   * one allocation of its final size. Appending to a builder instead cost three copies of every
   * line (the builder's first array, its widening to UTF-16 at the first CJK character, and the
   * final string), the largest share of what ingest allocated.
   */
  private final List<String> lines = new ArrayList<>();

  /** Line i's patch or masked line, or null when it has nothing to mask; null while none has. */
  private List<String> maskedLines;

  private long first;
  private long last;
  private long chars;

  void add(long seq, String line) {
    add(seq, line, null);
  }

  /**
   * {@code maskedLine}: the event's {@link MaskPatch}, or its masked line whole, or null when it
   * has nothing to mask.
   */
  void add(long seq, String line, String maskedLine) {
    if (!lines.isEmpty()
        && (lines.size() >= EventLog.CHUNK_MAX_EVENTS
            || chars + line.length() > EventLog.CHUNK_MAX_CHARS)) {
      seal();
    }
    if (lines.isEmpty()) {
      first = seq;
    }
    if (maskedLine != null && maskedLines == null) {
      // the events before had nothing to mask
      maskedLines = new ArrayList<>(lines.size() + 1);
      for (int i = 0; i < lines.size(); i++) {
        maskedLines.add(null);
      }
    }
    chars += (lines.isEmpty() ? 0 : 1) + line.length(); // as joined: a newline between lines
    lines.add(line);
    if (maskedLines != null) {
      maskedLines.add(maskedLine);
    }
    last = seq;
  }

  List<Chunk> chunks() {
    if (!lines.isEmpty()) {
      seal();
    }
    return done;
  }

  private void seal() {
    String masked = null;
    if (maskedLines != null) {
      for (int i = 0; i < lines.size(); i++) {
        if (maskedLines.get(i) == null) {
          maskedLines.set(i, "");
        }
      }
      masked = join(maskedLines);
    }
    done.add(new Chunk(first, last, join(lines), masked));
    lines.clear();
    maskedLines = null;
    chars = 0;
  }

  private static String join(List<String> lines) {
    return lines.size() == 1 ? lines.get(0) : String.join("\n", lines);
  }
}
