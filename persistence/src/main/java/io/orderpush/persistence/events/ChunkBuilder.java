package io.orderpush.persistence.events;

import java.util.ArrayList;
import java.util.List;

/** Packs one merchant's consecutive events of a group commit into bounded NDJSON chunks. */
final class ChunkBuilder {

  record Chunk(long first, long last, String body) {}

  private final List<Chunk> done = new ArrayList<>(1);
  private StringBuilder body;
  private long first;
  private long last;
  private int count;

  void add(long seq, String line) {
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
    }
    body.append(line);
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
    done.add(new Chunk(first, last, body.toString()));
    body = null;
    count = 0;
  }
}
