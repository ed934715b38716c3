package io.orderpush.delivery.cluster;

import io.orderpush.persistence.events.AppendResult;
import io.orderpush.persistence.events.NewEvent;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The binary form of an ingest request that a node parsed and validated, sent to the cluster's
 * writer node over the commit feed's connection, and of the writer's answer. The node where a
 * request lands does the parsing and masking, so the writer only commits; its events cross as
 * {@link NewEvent}s, exactly as ingest would hand them to the committer there.
 *
 * <p>Layout, big-endian. A batch: the byte {@code 'B'}, a version byte ({@link
 * CommitFrames#VERSION}); the request's id on the sending node (i64); the number of events (i32);
 * per event its merchant id and event id (u16 length, UTF-8 each), its rendered tail (i32 length,
 * UTF-8) and its masked tail (i32 length, UTF-8; -1 when it has none). An answer: the byte {@code
 * 'R'}, the version; the request's id (i64); an outcome byte ({@link Outcome}); for {@code
 * COMMITTED} the number of events (i32) and per event, in request order, its seq (i64) and whether
 * it was a duplicate (one byte, 0 or 1); for the others a message (u16 length, UTF-8). A goodbye:
 * the byte {@code 'G'}, the version. Decoding checks every length against what is left, so a
 * damaged message is refused whole.
 */
public final class ForwardedBatches {

  private static final byte BATCH = 'B';
  private static final byte ANSWER = 'R';
  private static final byte GOODBYE = 'G';

  private ForwardedBatches() {}

  /** How the writer answered a batch. */
  public enum Outcome {
    /** Committed: the events' seqs follow. */
    COMMITTED,
    /**
     * The writer's ingest queue is full, or the sending node has too many batches in flight there:
     * the caller gets 503 and retries.
     */
    OVERLOADED,
    /** PostgreSQL did not confirm the commit in time: 503, the events may be stored. */
    TIMED_OUT,
    /** Anything else: the sending node writes the batch itself (idempotent by event id). */
    FAILED
  }

  /** A batch read back. */
  public record Batch(long id, List<NewEvent> events) {}

  /** An answer read back: {@code seqs} and {@code duplicates} for {@code COMMITTED} only. */
  public record Answer(
      long id, Outcome outcome, long[] seqs, boolean[] duplicates, String message) {

    /** The answer as ingest renders it, for the events it was sent. */
    public List<AppendResult> results(List<NewEvent> sent) {
      if (outcome != Outcome.COMMITTED || seqs.length != sent.size()) {
        throw new IllegalStateException("no seq for every event sent");
      }
      List<AppendResult> out = new ArrayList<>(seqs.length);
      for (int i = 0; i < seqs.length; i++) {
        NewEvent e = sent.get(i);
        out.add(new AppendResult(e.merchantId(), e.eventId(), seqs[i], duplicates[i], null));
      }
      return out;
    }
  }

  /** Whether {@code message} is a batch (else: not one of this layout). */
  public static boolean isBatch(Buffer message) {
    return message.length() > 1 && message.getByte(0) == BATCH;
  }

  /**
   * The writer's last message to a follower it dropped: every answer it owed was written before it.
   * The follower closes the connection on reading it, so the close never overtakes an answer still
   * waiting in its socket (a WebSocket's close handler runs without the messages a paused reader
   * has not taken yet, and a batch whose answer is lost is written again by the follower).
   */
  public static Buffer goodbye() {
    return Buffer.buffer(2).appendByte(GOODBYE).appendByte(CommitFrames.VERSION);
  }

  /** Whether {@code message} is the writer's goodbye ({@link #goodbye}). */
  public static boolean isGoodbye(Buffer message) {
    return message.length() == 2
        && message.getByte(0) == GOODBYE
        && message.getByte(1) == CommitFrames.VERSION;
  }

  /** Whether {@code message} is an answer to a batch. */
  public static boolean isAnswer(Buffer message) {
    return message.length() > 1 && message.getByte(0) == ANSWER;
  }

  public static Buffer batch(long id, List<NewEvent> events) {
    long estimate = 16;
    for (NewEvent e : events) {
      estimate += 12L + e.merchantId().length() + e.eventId().length() + e.renderedTail().length();
      estimate += e.maskedTail() == null ? 0 : e.maskedTail().length();
    }
    Buffer buf = Buffer.buffer((int) Math.min(Integer.MAX_VALUE - 8, estimate));
    buf.appendByte(BATCH).appendByte(CommitFrames.VERSION).appendLong(id).appendInt(events.size());
    for (NewEvent e : events) {
      CommitFrames.writeShortString(buf, e.merchantId());
      CommitFrames.writeShortString(buf, e.eventId());
      CommitFrames.writeLongString(buf, e.renderedTail());
      if (e.maskedTail() == null) {
        buf.appendInt(-1);
      } else {
        CommitFrames.writeLongString(buf, e.maskedTail());
      }
    }
    return buf;
  }

  /**
   * Reads a batch back.
   *
   * @param maxEvents the most events one request may carry
   * @throws IllegalArgumentException when it is not a whole batch of this version, is empty or
   *     carries more than {@code maxEvents}
   */
  public static Batch readBatch(Buffer message, int maxEvents) {
    CommitFrames.Reader in = new CommitFrames.Reader(message);
    if (in.readByte() != BATCH || in.readByte() != CommitFrames.VERSION) {
      throw new IllegalArgumentException("not a batch of version " + CommitFrames.VERSION);
    }
    long id = in.readLong();
    int n = in.count(in.readInt(), 12);
    if (n == 0 || n > maxEvents) {
      throw new IllegalArgumentException(n + " events in a batch (1-" + maxEvents + ")");
    }
    List<NewEvent> events = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      String merchant = in.readString(in.readUnsignedShort());
      String eventId = in.readString(in.readUnsignedShort());
      String tail = in.readString(in.readInt());
      int maskedLength = in.readInt();
      String masked = maskedLength == -1 ? null : in.readString(maskedLength);
      events.add(new NewEvent(merchant, eventId, tail, masked));
    }
    end(in);
    return new Batch(id, events);
  }

  /** The answer to batch {@code id}: committed, with each event's result in request order. */
  public static Buffer committed(long id, List<AppendResult> results) {
    Buffer buf = Buffer.buffer(15 + 9 * results.size());
    buf.appendByte(ANSWER).appendByte(CommitFrames.VERSION).appendLong(id);
    buf.appendByte((byte) Outcome.COMMITTED.ordinal()).appendInt(results.size());
    for (AppendResult r : results) {
      buf.appendLong(r.seq()).appendByte((byte) (r.duplicate() ? 1 : 0));
    }
    return buf;
  }

  /** The answer to batch {@code id} when it was not committed. */
  public static Buffer refused(long id, Outcome outcome, String message) {
    if (outcome == Outcome.COMMITTED) {
      throw new IllegalArgumentException("a committed batch has results");
    }
    Buffer buf = Buffer.buffer(64);
    buf.appendByte(ANSWER).appendByte(CommitFrames.VERSION).appendLong(id);
    buf.appendByte((byte) outcome.ordinal());
    String m = message == null ? "" : message;
    CommitFrames.writeShortString(buf, m.length() > 1000 ? m.substring(0, 1000) : m);
    return buf;
  }

  /**
   * Reads an answer back.
   *
   * @throws IllegalArgumentException when it is not a whole answer of this version
   */
  public static Answer readAnswer(Buffer message) {
    CommitFrames.Reader in = new CommitFrames.Reader(message);
    if (in.readByte() != ANSWER || in.readByte() != CommitFrames.VERSION) {
      throw new IllegalArgumentException("not an answer of version " + CommitFrames.VERSION);
    }
    long id = in.readLong();
    int o = in.readByte();
    Outcome[] outcomes = Outcome.values();
    if (o < 0 || o >= outcomes.length) {
      throw new IllegalArgumentException("no outcome " + o);
    }
    Outcome outcome = outcomes[o];
    Answer answer;
    if (outcome == Outcome.COMMITTED) {
      int n = in.count(in.readInt(), 9);
      long[] seqs = new long[n];
      boolean[] duplicates = new boolean[n];
      for (int i = 0; i < n; i++) {
        seqs[i] = in.readLong();
        int d = in.readByte();
        if (d != 0 && d != 1 || seqs[i] < 1) {
          throw new IllegalArgumentException("event " + i + " answered wrongly");
        }
        duplicates[i] = d == 1;
      }
      answer = new Answer(id, outcome, seqs, duplicates, null);
    } else {
      answer = new Answer(id, outcome, null, null, in.readString(in.readUnsignedShort()));
    }
    end(in);
    return answer;
  }

  private static void end(CommitFrames.Reader in) {
    if (in.at != in.length()) {
      throw new IllegalArgumentException((in.length() - in.at) + " bytes after the message");
    }
  }
}
