package io.orderpush.gateway.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import io.orderpush.gateway.http.ApiException;
import io.orderpush.gateway.http.Utf16;
import io.orderpush.persistence.events.EventJson;
import io.orderpush.persistence.events.Instants;
import io.orderpush.persistence.events.NewEvent;
import io.orderpush.persistence.masking.MaskRules;
import io.orderpush.persistence.masking.Masker;
import io.orderpush.persistence.masking.Utf8Scan;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads an ingest body, a JSON array or NDJSON of events, in one streaming pass. Every problem of
 * every event is collected, so one 400 names them all; nothing is returned unless all are valid.
 * {@code data} is stored compact, numbers exactly as sent: as the request's own bytes when they are
 * compact already, else re-encoded token by token.
 */
public final class EventParser {

  /** Merchant ids appear in URLs and keys, so they keep to a safe alphabet. */
  public static final Pattern MERCHANT_ID = Pattern.compile("[A-Za-z0-9._:-]{1,64}");

  static final Pattern TYPE = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  static final int MAX_ID_LENGTH = 128;

  /**
   * Problems listed beyond each bad event's first (which is always listed: the answer names every
   * bad event, so at most {@code maxEvents} plus this many details).
   */
  static final int MAX_REPORTED_PROBLEMS = 100;

  /** Levels of nesting {@code data} may have by default (the data object itself is level 1). */
  public static final int DEFAULT_MAX_DATA_DEPTH = 32;

  /**
   * Levels a body may nest around and outside {@code data} (the array, the event, unknown members)
   * beyond {@code data}'s own limit; deeper, the parser stops at once with {@code too_deep}.
   */
  static final int ENVELOPE_DEPTH = 8;

  private static final JsonFactory JSON =
      JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  private final int maxEvents;
  private final int maxDataBytes;
  private final int maxDataDepth;
  private final JsonFactory bodies;
  private final Masker masker;

  /**
   * True for an app drill's own parser: every merchant must be a sandbox merchant ({@code
   * sandbox:<drill>:<n>}) and every event is marked {@code "sandbox":true}. False for ingest, which
   * refuses the namespace.
   */
  private final boolean sandbox;

  /** The namespace of drills' merchants, refused at ingest. */
  public static final String SANDBOX_PREFIX = io.orderpush.delivery.channel.Channel.SANDBOX_PREFIX;

  public EventParser(int maxEvents, int maxDataBytes) {
    this(maxEvents, maxDataBytes, DEFAULT_MAX_DATA_DEPTH, new Masker(MaskRules.defaults()));
  }

  /**
   * @param maxDataDepth levels of objects and arrays {@code data} may nest, itself included
   * @param masker renders each event's masked variant here, once, where the event is parsed anyway;
   *     it must be the event log's (the log stores which rules made them)
   */
  public EventParser(int maxEvents, int maxDataBytes, int maxDataDepth, Masker masker) {
    this(maxEvents, maxDataBytes, maxDataDepth, masker, false);
  }

  private EventParser(
      int maxEvents, int maxDataBytes, int maxDataDepth, Masker masker, boolean sandbox) {
    this.sandbox = sandbox;
    this.maxEvents = maxEvents;
    this.maxDataBytes = maxDataBytes;
    this.maxDataDepth = maxDataDepth;
    this.masker = masker;
    this.bodies =
        JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(
                StreamReadConstraints.builder()
                    .maxNestingDepth(maxDataDepth + ENVELOPE_DEPTH)
                    .build())
            .build();
  }

  /** The same parser for an app drill's synthetic events (see {@link #sandbox}). */
  public EventParser forSandbox() {
    return new EventParser(maxEvents, maxDataBytes, maxDataDepth, masker, true);
  }

  /** The events of {@code body} in request order, or an {@link ApiException} (400 or 413). */
  public List<NewEvent> parse(byte[] body) {
    Problems problems = new Problems();
    List<NewEvent> events = new ArrayList<>();
    int index = 0;
    try (JsonParser p = bodies.createParser(body)) {
      JsonToken t = p.nextToken();
      boolean array = t == JsonToken.START_ARRAY;
      if (array) {
        t = p.nextToken();
      }
      while (t != null && !(array && t == JsonToken.END_ARRAY)) {
        if (index >= maxEvents) {
          throw new ApiException(
              413, "too_many_events", "a request may carry at most " + maxEvents + " events");
        }
        if (t == JsonToken.START_OBJECT) {
          NewEvent e = parseEvent(p, body, index, problems);
          if (e != null) {
            events.add(e);
          }
        } else {
          problems.add(index, null, "each event must be a JSON object", false);
          p.skipChildren();
        }
        index++;
        t = p.nextToken();
      }
      if (array) {
        if (t == null) {
          throw malformed("the array is not closed", index);
        }
        if (p.nextToken() != null) {
          throw malformed("unexpected content after the array", index);
        }
      }
    } catch (StreamConstraintsException e) {
      if (!String.valueOf(e.getOriginalMessage()).contains("nesting depth")) {
        throw malformed(e.getOriginalMessage(), index);
      }
      String problem = "nests deeper than " + (maxDataDepth + ENVELOPE_DEPTH) + " levels";
      throw new ApiException(
          400,
          "too_deep",
          "event " + index + " " + problem + "; nothing was written",
          List.of(Map.of("index", index, "problem", problem)));
    } catch (JsonProcessingException e) {
      throw malformed(
          e.getOriginalMessage()
              + " at line "
              + e.getLocation().getLineNr()
              + ", column "
              + e.getLocation().getColumnNr(),
          index);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (index == 0) {
      throw ApiException.badRequest("the request carries no events");
    }
    problems.throwIfAny();
    return events;
  }

  private NewEvent parseEvent(JsonParser p, byte[] body, int index, Problems problems)
      throws IOException {
    String eventId = null;
    String merchantId = null;
    String orderId = null;
    String type = null;
    String occurredAt = null;
    Data data = null;
    int before = problems.count();
    JsonToken t;
    while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      t = p.nextToken();
      switch (field) {
        case "eventId" -> eventId = identifier(p, t, index, field, problems);
        case "orderId" -> orderId = identifier(p, t, index, field, problems);
        case "merchantId" -> merchantId = matching(p, t, index, field, MERCHANT_ID, problems);
        case "type" -> type = matching(p, t, index, field, TYPE, problems);
        case "occurredAt" -> occurredAt = instant(p, t, index, problems);
        case "data" -> data = data(p, body, t, index, problems);
        default -> p.skipChildren(); // unknown members are ignored, as JSON APIs usually do
      }
    }
    requireField(eventId, "eventId", index, problems);
    requireField(merchantId, "merchantId", index, problems);
    requireField(orderId, "orderId", index, problems);
    requireField(type, "type", index, problems);
    requireField(occurredAt, "occurredAt", index, problems);
    requireField(data, "data", index, problems);
    if (merchantId != null && merchantId.startsWith(SANDBOX_PREFIX) != sandbox) {
      problems.add(
          index,
          "merchantId",
          sandbox
              ? "a drill sends only sandbox merchants"
              : "the namespace " + SANDBOX_PREFIX + " is reserved for drills' sandbox merchants",
          false);
    }
    if (problems.count() > before) {
      return null;
    }
    return new NewEvent(
        merchantId,
        eventId,
        EventJson.tail(eventId, orderId, type, occurredAt, data.json(), sandbox),
        data.masked() == null
            ? null
            : EventJson.tail(eventId, orderId, type, occurredAt, data.masked(), sandbox),
        data.patch());
  }

  private static void requireField(Object value, String field, int index, Problems problems) {
    if (value == null && !problems.has(index, field)) {
      problems.add(index, field, "required", false);
    }
  }

  private static String string(
      JsonParser p, JsonToken t, int index, String field, Problems problems) throws IOException {
    if (t != JsonToken.VALUE_STRING) {
      problems.add(index, field, "must be a string", false);
      p.skipChildren();
      return null;
    }
    return p.getText();
  }

  private static String identifier(
      JsonParser p, JsonToken t, int index, String field, Problems problems) throws IOException {
    String s = string(p, t, index, field, problems);
    if (s == null) {
      return null;
    }
    if (s.isEmpty() || s.length() > MAX_ID_LENGTH) {
      problems.add(index, field, "must be 1 to " + MAX_ID_LENGTH + " characters", false);
      return null;
    }
    for (int i = 0; i < s.length(); i++) {
      if (Character.isISOControl(s.charAt(i))) {
        problems.add(index, field, "must not contain control characters", false);
        return null;
      }
    }
    if (Utf16.hasLoneSurrogate(s)) {
      problems.add(index, field, Utf16.LONE_SURROGATE, false);
      return null;
    }
    return s;
  }

  private static String matching(
      JsonParser p, JsonToken t, int index, String field, Pattern pattern, Problems problems)
      throws IOException {
    String s = string(p, t, index, field, problems);
    if (s != null && !matches(s, pattern)) {
      problems.add(index, field, "must match " + pattern.pattern(), false);
      return null;
    }
    return s;
  }

  /**
   * {@code pattern}, {@link #MERCHANT_ID} or {@link #TYPE}, matches {@code s}: by a loop over its
   * characters, which every event's two ids pay for, instead of the regex engine (a matcher per
   * call); any other pattern by the engine.
   */
  static boolean matches(String s, Pattern pattern) {
    boolean colon;
    if (pattern == MERCHANT_ID) {
      colon = true;
    } else if (pattern == TYPE) {
      colon = false;
    } else {
      return pattern.matcher(s).matches();
    }
    if (s.isEmpty() || s.length() > 64) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '.'
              || c == '_'
              || c == '-'
              || (colon && c == ':');
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  private static String instant(JsonParser p, JsonToken t, int index, Problems problems)
      throws IOException {
    String s = string(p, t, index, "occurredAt", problems);
    if (s == null) {
      return null;
    }
    if (Instants.isCanonicalUtc(s)) {
      return s; // already what parsing and printing it would give
    }
    try {
      Instant at = s.length() > 40 ? null : OffsetDateTime.parse(s).toInstant();
      if (at != null) {
        return at.toString();
      }
    } catch (DateTimeParseException ignored) {
      // reported below
    }
    problems.add(
        index,
        "occurredAt",
        "must be an ISO-8601 timestamp with offset, e.g. 2026-11-11T00:00:01.250Z",
        false);
    return null;
  }

  /**
   * An event's {@code data}, compact, its masked rendering (null: nothing to hide), and the {@code
   * MaskPatch} of the event's tail (null: nothing to hide, or the log stores the masked tail
   * whole).
   */
  private record Data(String json, String masked, String patch) {

    Data(String json, Masker.Copied copied) {
      this(json, copied.masked(json), copied.patch(json, EventJson.AFTER_DATA));
    }
  }

  /**
   * Reads {@code data} (the parser is at its start), within the depth and size limits, noting in
   * the same pass where its personal data lies; the masked variant is the copy with those values
   * masked. Data sent compact and without escapes, as JSON encoders write it, is stored as the
   * request's own bytes: they are exactly what re-encoding it token by token would write, so the
   * walk only validates it and finds the values to mask, and nothing is decoded or re-encoded but
   * those. Anything else (whitespace, an escape, bytes that are not valid UTF-8) is copied token by
   * token ({@link #copied}).
   */
  private Data data(JsonParser p, byte[] body, JsonToken t, int index, Problems problems)
      throws IOException {
    if (t != JsonToken.START_OBJECT) {
      problems.add(index, "data", "must be a JSON object", false);
      p.skipChildren();
      return null;
    }
    int from = (int) p.currentTokenLocation().getByteOffset();
    if (from < 0) {
      // a body in UTF-16 or UTF-32, which the parser reads as characters: no byte offsets
      return copied(p, index, problems);
    }
    Masker.Found found = masker.find(p, maxDataDepth);
    if (!found.fits()) {
      problems.add(index, "data", "must nest at most " + maxDataDepth + " levels deep", false);
      return null;
    }
    int to = (int) p.currentLocation().getByteOffset();
    if (Utf8Scan.compactWithoutEscapes(body, from, to)) {
      String json = new String(body, from, to - from, StandardCharsets.UTF_8);
      // a byte sequence that is not UTF-8 decodes to U+FFFD here, where the parser may have read
      // something else (an encoded surrogate): the token-by-token copy then decides, as before,
      // the size limit included (such a sequence may copy shorter than it was sent)
      if (json.indexOf('\uFFFD') < 0) {
        if (to - from > maxDataBytes) {
          return tooLarge(index, problems);
        }
        return new Data(json, found.inText(body, from, to));
      }
    }
    try (JsonParser again = bodies.createParser(body, from, to - from)) {
      again.nextToken();
      return copied(again, index, problems);
    }
  }

  private Data tooLarge(int index, Problems problems) {
    problems.add(index, "data", "must be at most " + maxDataBytes + " bytes of JSON", true);
    return null;
  }

  /**
   * Copies {@code data} compactly token by token, noting in the same pass where its personal data
   * lies, within the depth and size limits; the masked variant is the copy with those values
   * masked.
   */
  private Data copied(JsonParser p, int index, Problems problems) throws IOException {
    DataWriters out = DataWriters.get(JSON);
    Masker.Copied copied;
    try {
      copied = masker.copyAndMask(p, out.plain(), out::position, maxDataDepth);
    } catch (IOException | RuntimeException e) {
      out.discard();
      throw e;
    }
    if (!copied.fits()) {
      out.discard();
      problems.add(index, "data", "must nest at most " + maxDataDepth + " levels deep", false);
      return null;
    }
    String json = out.takePlain();
    if (json.length() > maxDataBytes
        || (json.length() * 3L > maxDataBytes
            && json.getBytes(StandardCharsets.UTF_8).length > maxDataBytes)) {
      return tooLarge(index, problems);
    }
    if (Utf16.hasLoneSurrogate(json)) {
      problems.add(index, "data", "strings and member names " + Utf16.LONE_SURROGATE, false);
      return null;
    }
    return new Data(json, copied);
  }

  private static ApiException malformed(String message, int index) {
    return new ApiException(
        400,
        "malformed_json",
        "the body is not valid JSON or NDJSON: " + message,
        List.of(Map.of("index", index, "problem", message)));
  }

  /** Problems found so far; 413 only when every one of them is a size limit. */
  private static final class Problems {
    private final List<Map<String, Object>> list = new ArrayList<>();
    private int count;
    private int more;
    private int lastIndex = -1;
    private boolean onlySize = true;

    /** Events are read in order: an index not seen yet is a new bad event's first problem. */
    void add(int index, String field, String problem, boolean size) {
      count++;
      onlySize &= size;
      boolean first = index != lastIndex;
      lastIndex = index;
      if (first || more++ < MAX_REPORTED_PROBLEMS) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("index", index);
        if (field != null) {
          d.put("field", field);
        }
        d.put("problem", problem);
        list.add(d);
      }
    }

    /**
     * Whether the event at {@code index}, the one being read, has a problem listed for {@code
     * field}: its problems are the last ones listed, so only they are looked at (the list grows
     * with the batch).
     */
    boolean has(int index, String field) {
      for (int i = list.size() - 1; i >= 0; i--) {
        Map<String, Object> d = list.get(i);
        if (!d.get("index").equals(index)) {
          return false;
        }
        if (field.equals(d.get("field"))) {
          return true;
        }
      }
      return false;
    }

    int count() {
      return count;
    }

    void throwIfAny() {
      if (count == 0) {
        return;
      }
      String message =
          count
              + " invalid event field(s); nothing was written"
              + (count > list.size()
                  ? " ("
                      + list.size()
                      + " listed: every bad event's first, and more up to "
                      + MAX_REPORTED_PROBLEMS
                      + ")"
                  : "");
      throw onlySize
          ? new ApiException(413, "event_too_large", message, list)
          : new ApiException(400, "invalid_events", message, list);
    }
  }
}
