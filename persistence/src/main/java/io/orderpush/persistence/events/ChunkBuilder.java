package io.orderpush.persistence.events;

import java.util.ArrayList;
import java.util.List;

/**
 * Packs one merchant's consecutive events of a group commit into bounded NDJSON chunks, with the
 * masked rendering beside: line i of {@code masked} is event i as an app without the {@code pii}
 * scope receives it (masked, or as it is when it has nothing to mask), so a reader without the
 * scope needs that column only; {@code masked} is null when no event of the chunk has anything to
 * mask.
 */
final class ChunkBuilder {

  record Chunk(long first, long last, String body, String masked) {}

  private final List<Chunk> done = new ArrayList<>(1);
  private StringBuilder body;
  private StringBuilder masked;
  private long first;
  private long last;
  private int count;

  void add(long seq, String line) {
    add(seq, line, null);
  }

  /** {@code maskedLine}: the event masked, or null when it has nothing to mask. */
  void add(long seq, String line, String maskedLine) {
    if (body != null
        && (count >= EventLog.CHUNK_MAX_EVENTS
            || body.length() + line.length() > EventLog.CHUNK_MAX_CHARS)) {
      seal();
    }
    if (body == null) {
      body = new StringBuilder(Math.max(256, line.length() * 2));
      first = seq;
    } else {
      body.append('\n');
      if (masked != null) {
        masked.append('\n');
      }
    }
    if (maskedLine != null && masked == null) {
      // the events before had nothing to mask: they go out as they are
      masked = new StringBuilder(body.capacity()).append(body);
    }
    body.append(line);
    if (masked != null) {
      masked.append(maskedLine != null ? maskedLine : line);
    }
    last = seq;
    count++;
  }

  List<Chunk> chunks() {
    if (body != null) {
      seal();
    }
    return done;
  }

  private void seal() {
    done.add(new Chunk(first, last, body.toString(), masked == null ? null : masked.toString()));
    body = null;
    masked = null;
    count = 0;
  }
}
