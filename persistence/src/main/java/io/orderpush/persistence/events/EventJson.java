package io.orderpush.persistence.events;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * The one owner of the delivered event's JSON shape. An app receives
 *
 * <pre>{"seq":N,"prevSeq":P,"ingestedAt":"...Z","eventId":...,"orderId":...,"type":...,
 * "occurredAt":...,"data":{...}}</pre>
 *
 * (an app drill's synthetic events carry {@code "sandbox":true} before {@code eventId})
 *
 * <p>and that is built here in three steps, each done once where its part is known: the edge
 * renders the {@link #tail} (validated members, {@code data} copied once), the commit prepends seq
 * and ingestedAt to make the stored {@link #line}, and delivery writes {@code "prevSeq"} after the
 * seq as it copies the line into a message ({@link #appendDelivered}). The few reads delivery needs
 * of a stored line ({@link #type}, {@link #ingestedAtMillis}) are here too: substrings at known
 * places, never a parse. Receivers parse with the client library ({@code io.orderpush.client}),
 * which stands apart.
 */
public final class EventJson {

  private static final String SEQ_MEMBER = "{\"seq\":";

  /** {@code {"seq":}, the start of every stored line. */
  private static final int SEQ_VALUE_AT = SEQ_MEMBER.length();

  private static final String TYPE_MEMBER = "\"type\":\"";
  private static final String INGESTED_AT_MEMBER = "\"ingestedAt\":\"";

  private static final DateTimeFormatter ISO_MILLIS =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private EventJson() {}

  /** Leads every member of a sandbox event: apps and their libraries can tell a drill's events. */
  static final String SANDBOX_MEMBER = "\"sandbox\":true,";

  /**
   * The event as delivery sends it, minus seq and ingestedAt, without the opening brace: written
   * straight into one buffer, {@code data} copied once. Identifiers hold no control characters
   * (validated), {@code type} and {@code occurredAt} only ASCII letters, digits and punctuation, so
   * escaping {@code "} and {@code \} alone gives what Jackson writes.
   *
   * @param data the event's data, already compact JSON
   */
  public static String tail(
      String eventId, String orderId, String type, String occurredAt, String data) {
    return tail(eventId, orderId, type, occurredAt, data, false);
  }

  /**
   * {@link #tail}, led by {@code "sandbox":true} for an app drill's synthetic event (a sandbox
   * merchant's).
   */
  public static String tail(
      String eventId,
      String orderId,
      String type,
      String occurredAt,
      String data,
      boolean sandbox) {
    // One concatenation: its length and coder are known before it copies anything, so the event's
    // text is copied once; a builder copied it three times (its first array, the widening to UTF-16
    // at the first CJK character of data, the final string).
    if (plain(eventId) && plain(orderId) && plain(type) && plain(occurredAt)) {
      // nothing to escape (the usual case): no quoted copy of each identifier either
      return (sandbox ? SANDBOX_MEMBER : "")
          + "\"eventId\":\""
          + eventId
          + "\",\"orderId\":\""
          + orderId
          + "\",\"type\":\""
          + type
          + "\",\"occurredAt\":\""
          + occurredAt
          + "\",\"data\":"
          + data
          + "}";
    }
    return (sandbox ? SANDBOX_MEMBER : "")
        + "\"eventId\":"
        + quoted(eventId)
        + ",\"orderId\":"
        + quoted(orderId)
        + ",\"type\":"
        + quoted(type)
        + ",\"occurredAt\":"
        + quoted(occurredAt)
        + ",\"data\":"
        + data
        + "}";
  }

  /** Characters of the {@link #tail} after its {@code data}: the event's closing brace. */
  public static final int AFTER_DATA = 1;

  private static boolean plain(String s) {
    return s.indexOf('"') < 0 && s.indexOf('\\') < 0;
  }

  private static String quoted(String s) {
    if (plain(s)) {
      return "\"" + s + "\"";
    }
    StringBuilder out = new StringBuilder(s.length() + 8);
    quote(out, s);
    return out.toString();
  }

  private static void quote(StringBuilder out, String s) {
    out.append('"');
    if (s.indexOf('"') < 0 && s.indexOf('\\') < 0) {
      out.append(s).append('"');
      return;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        out.append('\\');
      } else if (c < 0x20) {
        throw new IllegalArgumentException("control character in an identifier");
      }
      out.append(c);
    }
    out.append('"');
  }

  /**
   * What follows the seq in every line of one commit: {@code ,"ingestedAt":"...Z",} (milliseconds,
   * UTC). Made once per commit.
   */
  public static String afterSeq(Instant ingestedAt) {
    return ",\"ingestedAt\":\"" + ISO_MILLIS.format(ingestedAt) + "\",";
  }

  /** The stored line: {@code {"seq":N} + {@link #afterSeq} + {@link #tail}. */
  public static String line(long seq, String afterSeq, String tail) {
    return SEQ_MEMBER + seq + afterSeq + tail;
  }

  /**
   * Appends the event as delivered: the stored {@code line} with {@code "prevSeq":P} right after
   * the seq, in the one copy the caller makes anyway (no string per event).
   */
  public static StringBuilder appendDelivered(
      StringBuilder sb, String line, long seq, long prevSeq) {
    int at = SEQ_VALUE_AT + digits(seq);
    if (line.length() <= at || !line.startsWith(SEQ_MEMBER)) {
      return sb.append(line); // not a stored line (tests): as it is
    }
    return sb.append(line, 0, at)
        .append(",\"prevSeq\":")
        .append(prevSeq)
        .append(line, at, line.length());
  }

  /**
   * {@link #appendDelivered}, written as UTF-8 straight into {@code out}: the line's text is
   * encoded once, from the stored string, with no copy of it in between.
   *
   * @param lineBytes the line's length in UTF-8 ({@link #utf8Length}), which {@code out} is sure to
   *     have room for beside the {@code prevSeq} member: Netty's encoder makes room for three bytes
   *     a character unless it is told
   */
  public static void writeDelivered(
      io.netty.buffer.ByteBuf out, String line, int lineBytes, long seq, long prevSeq) {
    int at = SEQ_VALUE_AT + digits(seq);
    if (line.length() <= at || !line.startsWith(SEQ_MEMBER)) {
      // not a stored line (tests): as it is
      io.netty.buffer.ByteBufUtil.reserveAndWriteUtf8(out, line, 0, line.length(), lineBytes);
      return;
    }
    // {"seq":N is ASCII: as many bytes as characters
    io.netty.buffer.ByteBufUtil.reserveAndWriteUtf8(out, line, 0, at, at);
    out.writeCharSequence(",\"prevSeq\":", java.nio.charset.StandardCharsets.US_ASCII);
    out.writeCharSequence(Long.toString(prevSeq), java.nio.charset.StandardCharsets.US_ASCII);
    io.netty.buffer.ByteBufUtil.reserveAndWriteUtf8(out, line, at, line.length(), lineBytes - at);
  }

  /** The line's length in UTF-8. */
  public static int utf8Length(String line) {
    return io.netty.buffer.ByteBufUtil.utf8Bytes(line);
  }

  /** Bytes {@link #writeDelivered} writes for a line of {@code lineBytes} UTF-8 bytes. */
  public static int deliveredUtf8Length(String line, int lineBytes, long seq, long prevSeq) {
    int at = SEQ_VALUE_AT + digits(seq);
    return line.length() <= at || !line.startsWith(SEQ_MEMBER)
        ? lineBytes
        : lineBytes + 11 + digits(prevSeq);
  }

  /**
   * The event's type, read from its line: the first {@code "type":"} member is the event's own (it
   * follows eventId and orderId, whose values cannot hold an unescaped quote, and precedes data),
   * and a type holds no character JSON escapes. Null for a line without one.
   */
  public static String type(String line) {
    int at = line.indexOf(TYPE_MEMBER);
    if (at < 0) {
      return null;
    }
    int start = at + TYPE_MEMBER.length();
    int end = line.indexOf('"', start);
    return end < 0 ? null : line.substring(start, end);
  }

  /** When the event was committed (epoch ms), read from its line; -1 for a line without it. */
  public static long ingestedAtMillis(String line) {
    int at = line.indexOf(INGESTED_AT_MEMBER);
    if (at < 0) {
      return -1;
    }
    int start = at + INGESTED_AT_MEMBER.length();
    int end = line.indexOf('"', start);
    if (end < 0) {
      return -1;
    }
    String stamp = line.substring(start, end);
    long fast = Instants.epochMillis(stamp); // our own Instant.toString
    if (fast != Long.MIN_VALUE) {
      return fast;
    }
    try {
      return Instant.parse(stamp).toEpochMilli();
    } catch (RuntimeException malformed) {
      return -1;
    }
  }

  /**
   * The text a line holds when its event's {@code orderId} is this one (the id may also occur
   * inside data; only a parse of the line tells which).
   */
  public static String orderIdMember(String orderId) {
    return "\"orderId\":" + io.vertx.core.json.Json.encode(orderId);
  }

  private static int digits(long n) {
    if (n < 0) {
      return Long.toString(n).length();
    }
    int d = 1;
    while (n >= 10) {
      n /= 10;
      d++;
    }
    return d;
  }
}
