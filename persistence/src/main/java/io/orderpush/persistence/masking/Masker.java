package io.orderpush.persistence.masking;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * Masks the personal data of an event's {@code data} by {@link MaskRules}, in one streaming pass:
 * members off the listed paths are copied token by token (numbers from their source text), so on
 * compact input, as ingest stores it, every byte outside the listed members stays as it was.
 *
 * <p>Under a listed path: a string gets the path's mask; an object or array has every string inside
 * masked (by its own member's name, else {@code ****}, see {@link Walk#inner}); a number or boolean
 * becomes {@code "****"} (its type is data too: a phone sent as a number must not come out whole);
 * {@code null} stays {@code null}, since it says only that nothing is there. Thread-safe.
 */
public final class Masker {

  private static final JsonFactory JSON = new JsonFactory();

  /** The member that holds {@code data} in a stored event line; it is always the last one. */
  private static final String DATA_MEMBER = ",\"data\":";

  private final MaskRules rules;

  /** {@code "member":} of every first member of a path: data without any needs no parsing. */
  private final List<String> firstMembers;

  public Masker(MaskRules rules) {
    this.rules = rules;
    this.firstMembers = rules.root().children.keySet().stream().map(m -> "\"" + m + "\":").toList();
  }

  public MaskRules rules() {
    return rules;
  }

  /**
   * The masked rendering of {@code data} (a compact JSON object), or null when no listed member
   * with something to hide is in it: then the data is delivered as it is.
   */
  public String maskData(String data) {
    boolean candidate = false;
    for (String m : firstMembers) {
      if (data.contains(m)) {
        candidate = true;
        break;
      }
    }
    return candidate ? walk(data) : null;
  }

  /** The masked rendering of {@code data} by a walk over all of it; null when nothing differs. */
  private String walk(String data) {
    StringWriter out = new StringWriter(data.length() + 16);
    Walk walk = new Walk(Integer.MAX_VALUE, null, null);
    try (JsonParser p = JSON.createParser(data);
        JsonGenerator g = JSON.createGenerator(out)) {
      p.nextToken();
      walk.path(p, g, rules.root(), 0);
    } catch (IOException e) {
      throw new UncheckedIOException("masking data that is not valid JSON: " + e.getMessage(), e);
    }
    return walk.changed ? out.toString() : null;
  }

  /** What one walk over a value found: whether it fit, and the spans of its listed scalars. */
  abstract static class Walked {
    final Masker masker;
    final boolean fits;
    final Spans spans;

    Walked(Masker masker, boolean fits, Spans spans) {
      this.masker = masker;
      this.fits = fits;
      this.spans = spans;
    }

    /** False: the value nested deeper than allowed, and what was written of it is unusable. */
    public boolean fits() {
      return fits;
    }
  }

  /**
   * What {@link #copyAndMask} found: whether the value fit, and where its masked rendering differs
   * from the plain copy. The masked rendering is the plain copy with each listed scalar's text
   * replaced by its mask, so it is built from the copy ({@link #masked}) instead of by a second
   * generator: only members' values differ, never the structure, names or separators.
   */
  public static final class Copied extends Walked {

    private Copied(Masker masker, boolean fits, Spans spans) {
      super(masker, fits, spans);
    }

    /**
     * The masked rendering of {@code plain}, the text the plain generator wrote for this value
     * (from the position {@link #copyAndMask} started at); null when nothing was masked. Fails
     * closed: a span that does not hold a whole scalar (a generator configured otherwise than
     * {@link #copyAndMask} assumes) has the copy masked by a walk over it instead.
     */
    public String masked(String plain) {
      if (spans.count == 0) {
        return null;
      }
      if (!wholeScalars(plain)) {
        // the whole walk: maskData's shortcut looks for compact member names
        return masker.walk(plain);
      }
      // the exact length first: one array, filled once (a builder would widen to UTF-16 at the
      // first CJK character and copy again)
      char[][] quoted = new char[spans.count][];
      int length = plain.length();
      for (int i = 0; i < spans.count; i++) {
        quoted[i] = QUOTER.quoteAsString(spans.with[i]);
        length += quoted[i].length + 2 - (spans.at[2 * i + 1] - start(plain, i));
      }
      char[] out = new char[length];
      int done = 0;
      int at = 0;
      for (int i = 0; i < spans.count; i++) {
        int start = start(plain, i);
        plain.getChars(done, start, out, at);
        at += start - done;
        out[at++] = '"';
        System.arraycopy(quoted[i], 0, out, at, quoted[i].length);
        at += quoted[i].length;
        out[at++] = '"';
        done = spans.at[2 * i + 1];
      }
      plain.getChars(done, plain.length(), out, at);
      return new String(out);
    }

    /**
     * What the log stores of the masked rendering of a text that ends with {@code plain} and then
     * {@code after} more characters: the {@link MaskPatch} of its masks, made from the spans this
     * pass found, without comparing texts; null when nothing was masked or the spans do not each
     * hold a whole scalar ({@link #masked} then walks the copy again, and the log stores what it
     * gives whole).
     */
    public String patch(String plain, int after) {
      if (spans.count == 0 || !wholeScalars(plain)) {
        return null;
      }
      StringBuilder patch = new StringBuilder(24 * spans.count);
      int end = plain.length() + after;
      for (int i = 0; i < spans.count; i++) {
        int start = start(plain, i);
        MaskPatch.entry(patch, end - start, spans.at[2 * i + 1] - start)
            .append('"')
            .append(QUOTER.quoteAsString(spans.with[i]))
            .append('"');
      }
      return patch.toString();
    }

    /**
     * Whether {@link #masked} splices the masks into {@code plain} (every span holds a whole
     * scalar), rather than walk it again: what the spans were found for. True when none is masked.
     */
    public boolean splices(String plain) {
      return spans.count == 0 || wholeScalars(plain);
    }

    /** Whether every span, past its separator, is a string, number, true or false, in order. */
    private boolean wholeScalars(String plain) {
      int after = 0;
      for (int i = 0; i < spans.count; i++) {
        int end = spans.at[2 * i + 1];
        if (spans.at[2 * i] < after || end > plain.length() || spans.at[2 * i] >= end) {
          return false;
        }
        int start = start(plain, i);
        if (start >= end) {
          return false;
        }
        char first = plain.charAt(start);
        char last = plain.charAt(end - 1);
        boolean scalar;
        if (first == '"') {
          scalar = end - start >= 2 && last == '"';
        } else if (first == 't' || first == 'f') {
          scalar = last == 'e';
        } else {
          scalar = (first == '-' || (first >= '0' && first <= '9')) && last >= '0' && last <= '9';
        }
        if (!scalar) {
          return false;
        }
        after = end;
      }
      return true;
    }

    /**
     * Where span {@code i}'s value starts: the generator writes a value's separator with it (':'
     * after a member name, ',' between elements), and a value itself never starts with either.
     */
    private int start(String plain, int i) {
      int start = spans.at[2 * i];
      char first = plain.charAt(start);
      return first == ':' || first == ',' ? start + 1 : start;
    }
  }

  private static final com.fasterxml.jackson.core.io.JsonStringEncoder QUOTER =
      com.fasterxml.jackson.core.io.JsonStringEncoder.getInstance();

  /** The listed scalars of one value: their spans in the plain copy, and their masks. */
  private static final class Spans {
    int[] at = new int[16];
    String[] with = new String[8];
    int count;

    void add(int start, int end, String mask) {
      if (count == with.length) {
        at = java.util.Arrays.copyOf(at, 4 * count);
        with = java.util.Arrays.copyOf(with, 2 * count);
      }
      at[2 * count] = start;
      at[2 * count + 1] = end;
      with[count++] = mask;
    }
  }

  /**
   * Copies the value at the parser's current token to {@code plain} as it is (numbers from their
   * source text), and notes where the masked rendering differs, in the same pass: {@link
   * Copied#masked} then gives what {@link #maskData} would give for the plain copy, without reading
   * it again. {@code position} tells how many characters {@code plain} has written so far, buffered
   * ones included. {@code plain} must write compact JSON with Jackson's default escaping (no pretty
   * printer, no escaping of non-ASCII characters or slashes), as {@link #maskData}'s own generator
   * does: the masks are quoted that way. Past {@code maxDepth} levels of objects and arrays it
   * skips to the value's end and answers {@code fits} false; the copy is then unusable.
   */
  public Copied copyAndMask(
      JsonParser p, JsonGenerator plain, java.util.function.IntSupplier position, int maxDepth)
      throws IOException {
    Spans spans = new Spans();
    int origin = position.getAsInt();
    Walk walk = new Walk(maxDepth, spans, () -> position.getAsInt() - origin);
    walk.path(p, plain, rules.root(), 0);
    return new Copied(this, !walk.tooDeep, spans);
  }

  /**
   * What {@link #find} found in a value it read from UTF-8 bytes: whether the value fit, and where
   * each listed scalar whose mask differs from it starts, with that mask.
   */
  public static final class Found extends Walked {

    private Found(Masker masker, boolean fits, Spans spans) {
      super(masker, fits, spans);
    }

    /**
     * The same spans in the value's text, for {@link Copied#masked} of that text: {@code src[from,
     * to)} is the value {@link #find} read, and its text is that decoded. For a value that holds no
     * backslash, each listed string ends at its next quote, and the masked rendering is what {@link
     * #maskData} gives for the text. A span that does not hold a whole scalar is handed on empty,
     * so {@link Copied#masked} masks the text by a walk over it (it fails closed).
     */
    public Copied inText(byte[] src, int from, int to) {
      Spans chars = new Spans();
      int at = from; // bytes counted so far ...
      int count = 0; // ... and the characters they hold
      for (int i = 0; i < spans.count; i++) {
        int start = spans.at[2 * i];
        int end = start >= at ? scalarEnd(src, start, to) : -1;
        if (end < 0) {
          chars.add(0, 0, spans.with[i]);
          continue;
        }
        count += Utf8Scan.chars(src, at, start);
        int first = count;
        count += Utf8Scan.chars(src, start, end);
        at = end;
        chars.add(first, count, spans.with[i]);
      }
      return new Copied(masker, fits, chars);
    }

    /** Where the scalar starting at {@code start} ends (exclusive), or -1 if none does there. */
    private static int scalarEnd(byte[] src, int start, int to) {
      byte first = src[start];
      if (first == '"') {
        for (int k = start + 1; k < to; k++) {
          if (src[k] == '"') {
            return k + 1;
          }
        }
        return -1;
      }
      if (first == 't' || first == 'f') {
        int end = start + (first == 't' ? 4 : 5);
        return end <= to ? end : -1;
      }
      if (first != '-' && (first < '0' || first > '9')) {
        return -1;
      }
      int k = start + 1;
      while (k < to && isNumberByte(src[k])) {
        k++;
      }
      return k;
    }

    private static boolean isNumberByte(byte b) {
      return (b >= '0' && b <= '9') || b == '.' || b == 'e' || b == 'E' || b == '+' || b == '-';
    }
  }

  /**
   * Reads the value at the parser's current token, a parser over UTF-8 bytes, to its end without
   * writing anything, and notes where each listed scalar whose mask differs starts ({@link
   * JsonParser#currentTokenLocation}'s byte offset). Validation and the masks cost what they cost
   * in {@link #copyAndMask}; no string outside the listed paths is decoded and nothing is
   * re-encoded. The caller copies the value's own bytes when they are already what the copy would
   * be (compact, no escape) and masks them by {@link Found#inText}. Past {@code maxDepth} levels it
   * skips to the value's end and answers {@code fits} false.
   */
  public Found find(JsonParser p, int maxDepth) throws IOException {
    Spans spans = new Spans();
    Walk walk = new Walk(maxDepth, spans, null);
    walk.path(p, null, rules.root(), 0);
    return new Found(this, !walk.tooDeep, spans);
  }

  /**
   * The masked rendering of a whole stored event line ({@code {"seq":...,"data":{...}}}, data last,
   * as EventLog stores it), or null when there is nothing to mask in it.
   */
  public String maskLine(String line) {
    int at = line.indexOf(DATA_MEMBER);
    if (at < 0 || !line.endsWith("}")) {
      return null;
    }
    int start = at + DATA_MEMBER.length();
    String masked = maskData(line.substring(start, line.length() - 1));
    return masked == null ? null : line.substring(0, start) + masked + "}";
  }

  /**
   * One pass over one value, writing to the generator it is given either the masked rendering, or,
   * with {@code spans}, the value as it is, noting where the masked rendering would differ.
   * Remembers whether anything came out different, and whether the value nested deeper than allowed
   * ({@code open}: the objects and arrays open around the current token).
   */
  private static final class Walk {
    final int maxDepth;
    // set: the generator gets the value as it is, and the listed scalars' spans are noted here;
    // with no generator (find), each span is the scalar's first byte in the parser's input
    final Spans spans;
    final java.util.function.IntSupplier position;
    boolean changed;
    boolean tooDeep;

    Walk(int maxDepth, Spans spans, java.util.function.IntSupplier position) {
      this.maxDepth = maxDepth;
      this.spans = spans;
      this.position = position;
    }

    /** The value at the parser's token, on the way along the listed paths at {@code node}. */
    void path(JsonParser p, JsonGenerator g, MaskRules.Node node, int open) throws IOException {
      switch (p.currentToken()) {
        case START_OBJECT -> {
          if (skippedTooDeep(p, g, open)) {
            return;
          }
          copyToken(p, g);
          while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            copyToken(p, g);
            p.nextToken();
            MaskRules.Node child = node.children.get(name);
            if (child == null) {
              copy(p, g, open + 1);
            } else if (child.kind != null) {
              mask(p, g, child.kind, open + 1);
            } else {
              path(p, g, child, open + 1);
            }
          }
          copyToken(p, g);
        }
        case START_ARRAY -> {
          if (skippedTooDeep(p, g, open)) {
            return;
          }
          // an array on the way: each element is looked into with the same remaining path
          copyToken(p, g);
          while (p.nextToken() != JsonToken.END_ARRAY) {
            path(p, g, node, open + 1);
          }
          copyToken(p, g);
        }
        default -> copy(p, g, open);
      }
    }

    /**
     * The value at the parser's token is listed, with {@code kind}: a string gets that mask,
     * numbers and booleans are hidden, and inside an object or array every string is masked by
     * {@link #inner}.
     */
    void mask(JsonParser p, JsonGenerator g, MaskKind kind, int open) throws IOException {
      switch (p.currentToken()) {
        case START_OBJECT -> {
          if (skippedTooDeep(p, g, open)) {
            return;
          }
          copyToken(p, g);
          while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            copyToken(p, g);
            p.nextToken();
            mask(p, g, inner(name), open + 1);
          }
          copyToken(p, g);
        }
        case START_ARRAY -> {
          if (skippedTooDeep(p, g, open)) {
            return;
          }
          // elements are parts of the listed value: a whole-value shape (an address's province
          // and city first) says nothing about a part, so only a part's own name earns a shape
          MaskKind parts = kind == MaskKind.ADDRESS ? MaskKind.FULL : kind;
          copyToken(p, g);
          while (p.nextToken() != JsonToken.END_ARRAY) {
            mask(p, g, parts, open + 1);
          }
          copyToken(p, g);
        }
        case VALUE_STRING -> {
          String value = p.getText();
          String masked = Masks.apply(kind, value);
          boolean differs = !masked.equals(value);
          changed |= differs;
          write(p, g, masked, differs);
        }
        case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT, VALUE_TRUE, VALUE_FALSE -> {
          changed = true;
          write(p, g, Masks.FULL, true);
        }
        default -> copyToken(p, g);
      }
    }

    /**
     * A listed scalar whose masked rendering is {@code masked} (the value's own text when nothing
     * is hidden, {@code differs} false): written masked to {@code g}, or, when noting spans,
     * written as it is to {@code g} with its span noted if it differs.
     */
    void write(JsonParser p, JsonGenerator g, String masked, boolean differs) throws IOException {
      if (spans == null) {
        g.writeString(masked);
        return;
      }
      if (g == null) {
        if (differs) {
          spans.add((int) p.currentTokenLocation().getByteOffset(), -1, masked);
        }
        return;
      }
      int start = position.getAsInt();
      JsonCopy.writeToken(p.currentToken(), p, g);
      if (differs) {
        spans.add(start, position.getAsInt(), masked);
      }
    }

    /**
     * The mask of a member inside a listed object: the one its name tells ({@code name}, {@code
     * phone}, ...), else {@code ****}. So a listed {@code buyer} object keeps the shapes of its
     * name and phone, and the parts of a listed address object ({@code province}, {@code detail})
     * are hidden whole: keeping the first 6 characters of an address line would keep its street.
     */
    static MaskKind inner(String member) {
      return MaskKind.forMember(member);
    }

    /** Copies the value at the parser's token as it is, numbers from their source text. */
    void copy(JsonParser p, JsonGenerator g, int open) throws IOException {
      int depth = 0;
      do {
        JsonToken t = p.currentToken();
        if ((t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY)
            && skippedTooDeep(p, g, open + depth)) {
          continue; // at the skipped value's end; the depth is unchanged
        }
        depth += copyToken(p, g);
      } while (depth > 0 && p.nextToken() != null);
    }

    /** The parser's token, as it is, to {@code g}; the change of depth. */
    int copyToken(JsonParser p, JsonGenerator g) throws IOException {
      return g == null
          ? JsonCopy.depthChange(p.currentToken())
          : JsonCopy.writeToken(p.currentToken(), p, g);
    }

    /**
     * At an object or array with {@code open} levels around it: past the limit, skips it (the
     * parser is then at its end), writes a null in its place to keep the generator whole (the
     * output is unusable anyway) and answers true.
     */
    boolean skippedTooDeep(JsonParser p, JsonGenerator g, int open) throws IOException {
      if (open < maxDepth) {
        return false;
      }
      tooDeep = true;
      p.skipChildren();
      if (g != null) {
        g.writeNull();
      }
      return true;
    }
  }
}
