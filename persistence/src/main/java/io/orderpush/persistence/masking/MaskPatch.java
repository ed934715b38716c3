package io.orderpush.persistence.masking;

/**
 * An event's masked rendering stored as what differs from its plain line: the masks and where they
 * go (about 90 characters for an order's five masks, against some 600 for the line). The masked
 * rendering of an event is its plain text with some scalar values of {@code data} replaced by JSON
 * strings (the masks; {@code Masker} never changes names, separators or structure), so the log
 * keeps the plain line and, beside it, this patch.
 *
 * <p>A patch is a run of entries {@code <fromEnd>,<length>,"<mask>"}, in the order of the text: the
 * value {@code length} characters long that starts {@code fromEnd} characters before the end of the
 * line is replaced by the JSON string {@code "<mask>"} (quoted and escaped as in the masked
 * rendering, so it holds no newline). Positions count from the end because the edge makes the patch
 * from the event's tail ({@code EventJson.tail}), before the commit puts seq and ingestedAt in
 * front of it. The edge makes it from the spans of its one pass over {@code data} ({@link
 * Masker.Copied#patch}); {@link #of} finds it by comparing the two texts, for events that come
 * without those spans.
 */
public final class MaskPatch {

  private MaskPatch() {}

  /**
   * The patch that turns {@code plain} into {@code masked}, or null when they differ otherwise than
   * by whole scalars replaced by strings (then the masked text is stored as it is). Checked: the
   * patch applied to {@code plain} gives {@code masked} exactly, or there is none.
   */
  public static String of(String plain, String masked) {
    StringBuilder patch = new StringBuilder(64);
    int i = 0;
    int j = 0;
    // where the scalar the scan is in started in plain (-1: between values), and the string state
    int start = -1;
    boolean inString = false;
    boolean escaped = false;
    int n = plain.length();
    int m = masked.length();
    while (i < n && j < m) {
      char c = plain.charAt(i);
      if (c == masked.charAt(j)) {
        if (inString) {
          if (escaped) {
            escaped = false;
          } else if (c == '\\') {
            escaped = true;
          } else if (c == '"') {
            inString = false;
          }
        } else if (c == '"') {
          inString = true;
          start = i;
        } else if (c == ':' || c == ',' || c == '[' || c == '{' || c == '}' || c == ']') {
          start = -1;
        } else if (start < 0) {
          start = i; // a number, true, false or null begins
        }
        i++;
        j++;
        continue;
      }
      // They differ inside the value that began at start, or at the start of the next one.
      int s = start >= 0 ? start : i;
      if (!inString && start < 0 && !scalarStart(c)) {
        return null;
      }
      int ms = s + (j - i);
      if (ms < 0 || masked.charAt(ms) != '"') {
        return null;
      }
      int end = scalarEnd(plain, s);
      int maskEnd = stringEnd(masked, ms);
      if (end < 0 || maskEnd < 0) {
        return null;
      }
      entry(patch, n - s, end - s).append(masked, ms, maskEnd);
      i = end;
      j = maskEnd;
      start = -1;
      inString = false;
      escaped = false;
    }
    if (i != n || j != m || patch.isEmpty()) {
      return null;
    }
    String p = patch.toString();
    return masked.equals(apply(plain, p)) ? p : null;
  }

  /**
   * {@code line} with {@code patch} applied; {@link IllegalArgumentException} for a bad patch. The
   * entries are read first, so the result is written once into an array of its exact length (a
   * builder would copy again when it widens at the first CJK character, and at its end).
   */
  public static String apply(String line, String patch) {
    return apply(line, 0, line.length(), patch);
  }

  /**
   * {@link #apply} to the line {@code text[from, to)}, without copying it out first (a chunk's
   * events, read line by line).
   */
  public static String apply(String text, int from, int to, String patch) {
    int n = to;
    // per entry: where it starts and ends in text, and where its mask starts and ends in patch
    int[] at = new int[16];
    int count = 0;
    int length = to - from;
    int done = from;
    int k = 0;
    while (k < patch.length()) {
      int comma = patch.indexOf(',', k);
      int comma2 = comma < 0 ? -1 : patch.indexOf(',', comma + 1);
      if (comma2 < 0) {
        throw new IllegalArgumentException("not a mask patch");
      }
      int start = n - Integer.parseInt(patch, k, comma, 10);
      int end = start + Integer.parseInt(patch, comma + 1, comma2, 10);
      int maskEnd = stringEnd(patch, comma2 + 1);
      if (start < done || end > n || end < start || maskEnd < 0) {
        throw new IllegalArgumentException("mask patch does not fit its line");
      }
      if (4 * count == at.length) {
        at = java.util.Arrays.copyOf(at, 2 * at.length);
      }
      at[4 * count] = start;
      at[4 * count + 1] = end;
      at[4 * count + 2] = comma2 + 1;
      at[4 * count + 3] = maskEnd;
      count++;
      length += maskEnd - (comma2 + 1) - (end - start);
      done = end;
      k = maskEnd;
    }
    char[] out = new char[length];
    int o = 0;
    done = from;
    for (int i = 0; i < count; i++) {
      int start = at[4 * i];
      text.getChars(done, start, out, o);
      o += start - done;
      patch.getChars(at[4 * i + 2], at[4 * i + 3], out, o);
      o += at[4 * i + 3] - at[4 * i + 2];
      done = at[4 * i + 1];
    }
    text.getChars(done, n, out, o);
    return new String(out);
  }

  /** Starts an entry: the value at {@code fromEnd} of {@code length}; its quoted mask follows. */
  static StringBuilder entry(StringBuilder patch, int fromEnd, int length) {
    return patch.append(fromEnd).append(',').append(length).append(',');
  }

  private static boolean scalarStart(char c) {
    return c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n';
  }

  /** Where the scalar starting at {@code s} ends (exclusive), or -1. */
  private static int scalarEnd(String text, int s) {
    if (s >= text.length()) {
      return -1;
    }
    if (text.charAt(s) == '"') {
      return stringEnd(text, s);
    }
    int e = s;
    while (e < text.length()) {
      char c = text.charAt(e);
      if (c == ',' || c == '}' || c == ']') {
        break;
      }
      if (c == '"' || c == ':' || c == '{' || c == '[' || c <= ' ') {
        return -1;
      }
      e++;
    }
    return e > s && e < text.length() ? e : -1;
  }

  /** Where the JSON string opening at {@code s} ends (past its closing quote), or -1. */
  private static int stringEnd(String text, int s) {
    if (s >= text.length() || text.charAt(s) != '"') {
      return -1;
    }
    for (int e = s + 1; e < text.length(); e++) {
      char c = text.charAt(e);
      if (c == '\\') {
        e++;
      } else if (c == '"') {
        return e + 1;
      } else if (c == '\n') {
        return -1;
      }
    }
    return -1;
  }
}
