package io.orderpush.delivery.cluster;

import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The binary form of one committed group as the writer node feeds it to the other nodes (see {@code
 * CommitFeed}): every merchant's new events, each with its stored line and its masked rendering, in
 * seq order. Encoded once per group, whatever the number of followers.
 *
 * <p>Layout, big-endian: the byte {@code 'C'}, a version byte ({@link #VERSION}); the origin node
 * id (u16 length, UTF-8); the number of merchants (i32); per merchant its id (u16 length, UTF-8),
 * its number of events (i32), then per event its seq (i64), its line (i32 length, UTF-8) and its
 * masked rendering (i32 length, UTF-8; -1 when it has none). Decoding checks every length against
 * what is left, so a damaged frame is refused whole, never half applied.
 */
public final class CommitFrames {

  private static final byte MAGIC = 'C';

  /**
   * The layout's version: a writer only feeds followers that read the same one. 2: the feed also
   * carries ingest batches and their answers ({@link ForwardedBatches}). 3: the follower sends its
   * batches in unmasked frames, which a writer of version 2 would refuse, and a writer ends a
   * dropped follower's connection with a goodbye ({@link ForwardedBatches#goodbye}).
   */
  public static final byte VERSION = 3;

  private CommitFrames() {}

  /** A decoded frame: which node committed it, and its events by merchant (those kept). */
  public record Frame(String origin, Map<String, List<LoggedEvent>> events) {}

  /**
   * The frame of a committed group, or null when it would be larger than {@code maxBytes} (the
   * followers then learn of it from the head notices and read the log).
   */
  public static Buffer encode(String origin, Map<String, List<LoggedEvent>> stored, int maxBytes) {
    // UTF-8 takes at least a byte per char: a lower bound, exact for Latin-1 text
    long estimate = 8L + origin.length();
    for (Map.Entry<String, List<LoggedEvent>> e : stored.entrySet()) {
      estimate += 6L + e.getKey().length();
      for (LoggedEvent ev : e.getValue()) {
        estimate += 16L + ev.json().length();
        if (ev.maskedJson() != null) {
          estimate += ev.maskedJson().length();
        }
      }
    }
    if (estimate > maxBytes) {
      return null;
    }
    Buffer buf = Buffer.buffer((int) estimate);
    buf.appendByte(MAGIC).appendByte(VERSION);
    writeShortString(buf, origin);
    buf.appendInt(stored.size());
    for (Map.Entry<String, List<LoggedEvent>> e : stored.entrySet()) {
      writeShortString(buf, e.getKey());
      buf.appendInt(e.getValue().size());
      for (LoggedEvent ev : e.getValue()) {
        buf.appendLong(ev.seq());
        writeLongString(buf, ev.json());
        if (ev.maskedJson() == null) {
          buf.appendInt(-1);
        } else {
          writeLongString(buf, ev.maskedJson());
        }
      }
    }
    return buf.length() > maxBytes ? null : buf;
  }

  /**
   * A committed group as frames of at most {@code maxBytes} each, whole merchants per frame.
   *
   * @param frames in the group's merchant order; empty if nothing fit
   * @param whole false when some merchant's events alone exceed {@code maxBytes} (left out)
   */
  public record Split(List<Buffer> frames, boolean whole) {}

  /** Encodes a group as frames of at most {@code maxBytes}: see {@link Split}. */
  public static Split encodeSplit(
      String origin, Map<String, List<LoggedEvent>> stored, int maxBytes) {
    Buffer one = encode(origin, stored, maxBytes);
    if (one != null) {
      return new Split(List.of(one), true);
    }
    List<Buffer> frames = new ArrayList<>();
    boolean whole = split(origin, new ArrayList<>(stored.entrySet()), maxBytes, frames);
    return new Split(frames, whole);
  }

  private static boolean split(
      String origin,
      List<Map.Entry<String, List<LoggedEvent>>> merchants,
      int maxBytes,
      List<Buffer> frames) {
    Map<String, List<LoggedEvent>> part = new java.util.LinkedHashMap<>();
    merchants.forEach(e -> part.put(e.getKey(), e.getValue()));
    Buffer frame = encode(origin, part, maxBytes);
    if (frame != null) {
      frames.add(frame);
      return true;
    }
    if (merchants.size() == 1) {
      return false; // one merchant's events alone are too large
    }
    int half = merchants.size() / 2;
    boolean first = split(origin, merchants.subList(0, half), maxBytes, frames);
    return split(origin, merchants.subList(half, merchants.size()), maxBytes, frames) && first;
  }

  /**
   * Reads a frame back.
   *
   * @throws IllegalArgumentException when it is not a whole frame of this version, or its events
   *     are not in increasing seq order per merchant
   */
  public static Frame decode(Buffer frame) {
    return decode(frame, m -> true);
  }

  /**
   * Reads a frame back, keeping only the events of the merchants {@code wanted} accepts (the
   * others' are checked for their lengths and skipped, not decoded).
   *
   * @throws IllegalArgumentException as {@link #decode(Buffer)}
   */
  public static Frame decode(Buffer frame, Predicate<String> wanted) {
    Reader in = new Reader(frame);
    if (in.readByte() != MAGIC || in.readByte() != VERSION) {
      throw new IllegalArgumentException("not a commit frame of version " + VERSION);
    }
    String origin = in.readString(in.readUnsignedShort());
    int merchants = in.count(in.readInt(), 10);
    Map<String, List<LoggedEvent>> events = new HashMap<>(merchants * 2);
    for (int i = 0; i < merchants; i++) {
      String merchant = in.readString(in.readUnsignedShort());
      int n = in.count(in.readInt(), 16);
      if (n == 0) {
        throw new IllegalArgumentException("no events for merchant " + merchant);
      }
      boolean keep = wanted.test(merchant);
      List<LoggedEvent> list = keep ? new ArrayList<>(n) : List.of();
      long prev = 0;
      for (int j = 0; j < n; j++) {
        long seq = in.readLong();
        if (seq <= prev) {
          throw new IllegalArgumentException("seqs out of order for merchant " + merchant);
        }
        prev = seq;
        if (keep) {
          String json = in.readString(in.readInt());
          int maskedLength = in.readInt();
          String masked = maskedLength == -1 ? null : in.readString(maskedLength);
          list.add(new LoggedEvent(seq, json, masked));
        } else {
          in.take(in.readInt());
          int maskedLength = in.readInt();
          if (maskedLength != -1) {
            in.take(maskedLength);
          }
        }
      }
      if (!keep) {
        continue;
      }
      if (events.put(merchant, list) != null) {
        throw new IllegalArgumentException("merchant " + merchant + " twice");
      }
    }
    if (in.at != in.length()) {
      throw new IllegalArgumentException((in.length() - in.at) + " bytes after the frame");
    }
    return new Frame(origin, events);
  }

  /**
   * Reads a frame front to back, every read checked against its end, from one copy of its bytes
   * (strings are decoded straight from it: no copy and no charset lookup per string). Also reads
   * {@link ForwardedBatches}.
   */
  static final class Reader {
    private final byte[] bytes;
    int at;

    Reader(Buffer buf) {
      this.bytes = buf.getBytes();
    }

    int length() {
      return bytes.length;
    }

    int take(int n) {
      if (n < 0 || n > bytes.length - at) {
        throw new IllegalArgumentException("frame cut short");
      }
      int from = at;
      at += n;
      return from;
    }

    byte readByte() {
      return bytes[take(1)];
    }

    int readUnsignedShort() {
      int i = take(2);
      return (bytes[i] & 0xFF) << 8 | (bytes[i + 1] & 0xFF);
    }

    int readInt() {
      int i = take(4);
      return (bytes[i] & 0xFF) << 24
          | (bytes[i + 1] & 0xFF) << 16
          | (bytes[i + 2] & 0xFF) << 8
          | (bytes[i + 3] & 0xFF);
    }

    long readLong() {
      return (long) readInt() << 32 | (readInt() & 0xFFFFFFFFL);
    }

    String readString(int length) {
      return new String(bytes, take(length), length, StandardCharsets.UTF_8);
    }

    /** A count of items of at least {@code minBytesEach} bytes that fits in what is left. */
    int count(int n, int minBytesEach) {
      if (n < 0 || (long) n * minBytesEach > bytes.length - at) {
        throw new IllegalArgumentException("count " + n + " past the frame's end");
      }
      return n;
    }
  }

  static void writeShortString(Buffer buf, String s) {
    int at = buf.length();
    buf.appendShort((short) 0).appendString(s);
    int n = buf.length() - at - 2;
    if (n > 0xFFFF) {
      throw new IllegalArgumentException("id longer than 65535 bytes");
    }
    buf.setShort(at, (short) n);
  }

  static void writeLongString(Buffer buf, String s) {
    int at = buf.length();
    buf.appendInt(0).appendString(s);
    buf.setInt(at, buf.length() - at - 4);
  }
}
