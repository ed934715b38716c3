package io.orderpush.persistence.masking;

/**
 * Scans of UTF-8 JSON text eight bytes at a time (one {@code long} read, bit tricks on its bytes):
 * over CJK text, a byte-by-byte loop mispredicts nearly every branch. Used where ingest stores
 * {@code data} as the request's own bytes ({@link Masker#find}).
 */
public final class Utf8Scan {

  private Utf8Scan() {}

  /**
   * Whether {@code body[from, to)}, a JSON value the parser accepted, is compact and holds no
   * escape: no whitespace outside strings and no backslash anywhere. Then a string ends at its next
   * quote, and a generator copying the value token by token writes these bytes.
   */
  public static boolean compactWithoutEscapes(byte[] body, int from, int to) {
    boolean inString = false;
    int i = from;
    while (i < to) {
      // eight bytes at a time while none of them is a quote, a backslash or (outside strings) a
      // byte below '!': long runs of text, CJK text above all, go by in a few steps
      if (i + 8 <= to) {
        long w = (long) LONGS.get(body, i);
        long stop = has(w, QUOTES) | has(w, BACKSLASHES);
        if (!inString) {
          stop |= (w - BYTES_OF_BANG) & ~w & HIGH_BITS;
        }
        if (stop == 0) {
          i += 8;
          continue;
        }
      }
      byte b = body[i++];
      if (b == '"') {
        inString = !inString;
      } else if (b == '\\') {
        return false;
      } else if (!inString && (b == ' ' || b == '\n' || b == '\r' || b == '\t')) {
        return false;
      }
    }
    return true;
  }

  private static final java.lang.invoke.VarHandle LONGS =
      java.lang.invoke.MethodHandles.byteArrayViewVarHandle(
          long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

  private static final long LOW_BITS = 0x0101010101010101L;
  private static final long HIGH_BITS = 0x8080808080808080L;
  private static final long QUOTES = LOW_BITS * '"';
  private static final long BACKSLASHES = LOW_BITS * '\\';
  private static final long BYTES_OF_BANG = LOW_BITS * '!';

  /** Non-zero when a byte of {@code w} equals the byte repeated in {@code pattern}. */
  private static long has(long w, long pattern) {
    long x = w ^ pattern;
    return (x - LOW_BITS) & ~x & HIGH_BITS;
  }

  /**
   * UTF-16 characters that the valid UTF-8 of {@code src[from, to)} decodes to: one per byte that
   * does not continue a character, two for one that starts four bytes (a surrogate pair). Eight
   * bytes at a time: a byte-by-byte loop over CJK text mispredicts nearly every branch.
   */
  public static int chars(byte[] src, int from, int to) {
    int n = to - from;
    int k = from;
    for (; k + 8 <= to; k += 8) {
      long w = (long) LONGS.get(src, k);
      // bit 7 of each byte: 10xxxxxx continues a character, 11110xxx starts four bytes
      n -= Long.bitCount(w & ~(w << 1) & HIGH_BITS);
      n += Long.bitCount(w & (w << 1) & (w << 2) & (w << 3) & ~(w << 4) & HIGH_BITS);
    }
    for (; k < to; k++) {
      int b = src[k];
      if ((b & 0xC0) == 0x80) {
        n--;
      } else if ((b & 0xF8) == 0xF0) {
        n++;
      }
    }
    return n;
  }
}
