package io.orderpush.gateway.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.orderpush.gateway.http.ApiException;
import io.orderpush.persistence.events.NewEvent;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class EventParserTest {

  final EventParser parser = new EventParser(3, 100);

  static String event(String id, String data) {
    return "{\"eventId\":\""
        + id
        + "\",\"merchantId\":\"m-1\",\"orderId\":\"o-1\",\"type\":\"order.paid\","
        + "\"occurredAt\":\"2026-11-11T08:00:01.250+08:00\",\"data\":"
        + data
        + "}";
  }

  List<NewEvent> parse(String body) {
    return parser.parse(body.getBytes(StandardCharsets.UTF_8));
  }

  ApiException refused(String body) {
    return catchThrowableOfType(ApiException.class, () -> parse(body));
  }

  @Test
  void shouldKeepNumbersExactlyAsSentAndRenderDataCompactly() {
    NewEvent e =
        parse(
                "["
                    + event(
                        "e1",
                        "{ \"amount\" : 12.50,\n \"big\": 12345678901234567890123, \"n\": [1e3, -0.0] }")
                    + "]")
            .get(0);
    assertThat(e.renderedTail())
        .isEqualTo(
            "\"eventId\":\"e1\",\"orderId\":\"o-1\",\"type\":\"order.paid\",\"occurredAt\":\"2026-11-11T00:00:01.250Z\","
                + "\"data\":{\"amount\":12.50,\"big\":12345678901234567890123,\"n\":[1e3,-0.0]}}");
  }

  @Test
  void shouldRenderTheTailExactlyAsJacksonWouldWithQuotesBackslashesAndNonAsciiInIds()
      throws Exception {
    String[] ids = {"e\"1", "a\\b", "\u5f20\u4e09", "\ud83d\ude00x", "</script>", "x\u2028y"};
    for (String id : ids) {
      String data = "{\"k\":\"v\"}";
      var out = new java.io.StringWriter();
      try (var g = new com.fasterxml.jackson.core.JsonFactory().createGenerator(out)) {
        g.writeStartObject();
        g.writeStringField("eventId", id);
        g.writeStringField("orderId", "o-" + id);
        g.writeStringField("type", "order.paid");
        g.writeStringField("occurredAt", "2026-11-11T00:00:01.250Z");
        g.writeFieldName("data");
        g.writeRawValue(data);
        g.writeEndObject();
      }
      assertThat(
              io.orderpush.persistence.events.EventJson.tail(
                  id, "o-" + id, "order.paid", "2026-11-11T00:00:01.250Z", data))
          .isEqualTo(out.toString().substring(1));
    }
  }

  @Test
  void shouldStoreTheMaskedDataThatMaskingTheStoredLineGives() {
    // Ingest makes the masked rendering from its compact copy (the spans of the listed values);
    // delivery masks stored lines with the masker's own walk: both must agree, also where the
    // copy's generator wrote a long run directly, flushed its buffer mid-value, or escaped a name.
    io.orderpush.persistence.masking.Masker masker =
        new io.orderpush.persistence.masking.Masker(
            io.orderpush.persistence.masking.MaskRules.defaults());
    EventParser big = new EventParser(1, 1 << 20, EventParser.DEFAULT_MAX_DATA_DEPTH, masker);
    java.util.Random r = new java.util.Random(11);
    String[] pieces = {"x", "张三", "\\n", "\\\"", "\\u0001", " ", "a@b.cn", "138"};
    int masked = 0;
    for (int i = 0; i < 3_000; i++) {
      StringBuilder note = new StringBuilder();
      int n = r.nextInt(4) == 0 ? r.nextInt(2_500) : r.nextInt(60);
      for (int k = 0; k < n; k++) {
        note.append(pieces[r.nextInt(pieces.length)]);
      }
      String[] members = {
        "\"note\":\"" + note + "\"",
        "\"a\\nb\":" + r.nextInt(100),
        "\"buyer\":{\"name\":\""
            + note.substring(0, Math.min(note.length(), 9)).replace("\\", "").replace("\"", "")
            + "欧阳\",\"phone\":"
            + (r.nextBoolean() ? "13812345678" : "\"+86 138-1234-5678\"")
            + "}",
        "\"receiver\":{\"mobile\":\"139"
            + r.nextInt(100_000_000)
            + "\",\"address\":\""
            + note.substring(0, Math.min(note.length(), 5_000)).replace("\\", "").replace("\"", "")
            + "\"}",
        "\"items\":[{\"sku\":\"" + note.length() + "\"},true,null]"
      };
      java.util.List<String> order = new java.util.ArrayList<>(java.util.List.of(members));
      java.util.Collections.shuffle(order, r);
      String data = "{" + String.join(",", order.subList(0, 1 + r.nextInt(order.size()))) + "}";
      NewEvent e = big.parse(event("e" + i, data).getBytes(StandardCharsets.UTF_8)).get(0);
      assertThat(e.maskedTail()).as(data).isEqualTo(masker.maskLine(e.renderedTail()));
      assertPatched(e);
      masked += e.maskedTail() == null ? 0 : 1;
    }
    assertThat(masked).as("events with something masked").isGreaterThan(1_000);
  }

  @Test
  void shouldReadNdjsonAndArraysAlike() {
    assertThat(parse(event("a", "{}") + "\n" + event("b", "{}") + "\n"))
        .extracting(NewEvent::eventId)
        .containsExactly("a", "b");
    assertThat(parse("[" + event("a", "{}") + "," + event("b", "{}") + "]"))
        .extracting(NewEvent::eventId)
        .containsExactly("a", "b");
  }

  @Test
  void shouldNameEveryBadEventOfAFullBatchEvenPastTheCapOnDetails() {
    StringBuilder body = new StringBuilder("[");
    for (int i = 0; i < 1000; i++) {
      // five problems each: only eventId and merchantId are given, and the id is a number
      body.append(i == 0 ? "" : ",").append("{\"eventId\":1,\"merchantId\":\"m-1\"}");
    }
    ApiException e =
        catchThrowableOfType(
            ApiException.class,
            () ->
                new EventParser(1000, 100)
                    .parse(body.append("]").toString().getBytes(StandardCharsets.UTF_8)));
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.details().stream().map(d -> d.get("index")).distinct()).hasSize(1000);
    assertThat(e.details()).hasSize(1000 + EventParser.MAX_REPORTED_PROBLEMS);
    assertThat(e.getMessage()).startsWith("5000 invalid event field(s)");
  }

  @Test
  void shouldNameEveryBadEventByIndexAndField() {
    ApiException e = refused("[" + event("ok", "{}") + ",{\"eventId\":1,\"merchantId\":\"m-1\"}]");
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.details())
        .extracting(d -> d.get("index") + ":" + d.get("field"))
        .containsExactlyInAnyOrder("1:eventId", "1:orderId", "1:type", "1:occurredAt", "1:data");
  }

  @Test
  void shouldAnswer413PastTheEventCountAndDataSize() {
    assertThat(
            refused(
                    "["
                        + String.join(
                            ",",
                            List.of(
                                event("1", "{}"),
                                event("2", "{}"),
                                event("3", "{}"),
                                event("4", "{}")))
                        + "]")
                .code())
        .isEqualTo("too_many_events");
    ApiException tooBig = refused("[" + event("1", "{\"x\":\"" + "y".repeat(100) + "\"}") + "]");
    assertThat(tooBig.status()).isEqualTo(413);
    assertThat(tooBig.details())
        .extracting(d -> d.get("index") + ":" + d.get("field"))
        .containsExactly("0:data");
  }

  @Test
  void shouldRenderEveryEventsDataAloneAfterRenderingsThatStoppedHalfWay() {
    // Data is written by a generator reused from event to event on a thread:
    // one left mid-value (malformed input, too deep) must not leak into the next event's data.
    EventParser deep =
        new EventParser(
            3,
            1000,
            3,
            new io.orderpush.persistence.masking.Masker(
                io.orderpush.persistence.masking.MaskRules.defaults()));
    assertThat(
            catchThrowableOfType(
                    ApiException.class,
                    () ->
                        deep.parse(
                            ("[" + event("1", "{\"buyer\":{\"name\":\"Li\",\"a\":[1,2"))
                                .getBytes(StandardCharsets.UTF_8)))
                .code())
        .isEqualTo("malformed_json");
    assertThat(
            catchThrowableOfType(
                    ApiException.class,
                    () ->
                        deep.parse(
                            ("[" + event("2", "{\"buyer\":{\"name\":\"Li\",\"a\":[[1]]}}") + "]")
                                .getBytes(StandardCharsets.UTF_8)))
                .details())
        .extracting(d -> d.get("index") + ":" + d.get("field"))
        .containsExactly("0:data");
    for (int round = 0; round < 2; round++) {
      List<NewEvent> events =
          deep.parse(
              ("["
                      + event("3", "{\"buyer\":{\"name\":\"王小明\"},\"n\":1}")
                      + ","
                      + event("4", "{\"amount\":2}")
                      + ","
                      + event("5", "{\"buyer\":{\"nick\":\"bo\"}}")
                      + "]")
                  .getBytes(StandardCharsets.UTF_8));
      assertThat(events.get(0).renderedTail())
          .endsWith("\"data\":{\"buyer\":{\"name\":\"王小明\"},\"n\":1}}");
      assertThat(events.get(0).maskedTail()).endsWith("\"n\":1}}").doesNotContain("小明");
      assertThat(events.get(1).renderedTail()).endsWith("\"data\":{\"amount\":2}}");
      assertThat(events.get(1).maskedTail()).isNull();
      assertThat(events.get(2).renderedTail()).endsWith("\"data\":{\"buyer\":{\"nick\":\"bo\"}}}");
      assertThat(events.get(2).maskedTail())
          .startsWith("\"eventId\":\"5\"")
          .doesNotContain("\"bo\"");
    }
  }

  @Test
  void shouldRefuseMalformedJsonDuplicateKeysAndTrailingContent() {
    assertThat(refused("[" + event("1", "{}")).code()).isEqualTo("malformed_json");
    assertThat(refused("[" + event("1", "{}") + "] []").code()).isEqualTo("malformed_json");
    assertThat(refused("{\"eventId\":\"a\",\"eventId\":\"b\"}").code()).isEqualTo("malformed_json");
    assertThat(refused("{nope}").code()).isEqualTo("malformed_json");
  }

  @Test
  void shouldRefuseControlCharactersInIdsAndBadTimestamps() {
    assertThat(refused("[" + event("a\\u0000b", "{}") + "]").details())
        .extracting(d -> d.get("field"))
        .containsExactly("eventId");
    assertThat(
            refused(
                    "["
                        + event("a", "{}")
                            .replace("2026-11-11T08:00:01.250+08:00", "2026-11-11 08:00")
                        + "]")
                .details())
        .extracting(d -> d.get("field"))
        .containsExactly("occurredAt");
  }

  @Test
  void shouldRefuseIdsWithALoneSurrogateNamingTheEventAndField() {
    ApiException e =
        refused(
            "["
                + event("ok", "{}")
                + ","
                + event("e-\\ud800", "{}")
                + ","
                + event("e-\\udc00x", "{}").replace("\"o-1\"", "\"o-\\ud83d\"")
                + "]");
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.code()).isEqualTo("invalid_events");
    assertThat(e.details())
        .extracting(d -> d.get("index") + ":" + d.get("field"))
        .containsExactlyInAnyOrder("1:eventId", "2:eventId", "2:orderId");
    assertThat(e.details().get(0).get("problem").toString()).contains("unpaired UTF-16 surrogate");
  }

  @Test
  void shouldRefuseDataWithALoneSurrogateInAStringOrMemberName() {
    ApiException e =
        refused(
            "["
                + event("a", "{\"note\":\"x\\udfff\"}")
                + ","
                + event("b", "{\"\\ud800\":1}")
                + "]");
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.details())
        .extracting(d -> d.get("index") + ":" + d.get("field"))
        .containsExactly("0:data", "1:data");
  }

  @Test
  void shouldKeepIdsWithWellFormedSurrogatePairs() {
    assertThat(parse(event("e-\\ud83d\\ude00", "{\"n\":\"\\ud83d\\ude00\"}")))
        .extracting(NewEvent::eventId)
        .containsExactly("e-\ud83d\ude00");
  }

  @Test
  void shouldStoreDataAsItsCompactCopyWhetherSentCompactOrNot() throws Exception {
    // Compact data without escapes is stored as the request's bytes, anything else as the
    // token-by-token copy: both must store what the copy writes, and mask it alike.
    io.orderpush.persistence.masking.Masker masker =
        new io.orderpush.persistence.masking.Masker(
            io.orderpush.persistence.masking.MaskRules.defaults());
    EventParser big = new EventParser(1, 1 << 20, EventParser.DEFAULT_MAX_DATA_DEPTH, masker);
    java.util.Random r = new java.util.Random(23);
    int asSent = 0;
    int masked = 0;
    for (int i = 0; i < 5_000; i++) {
      String data = io.orderpush.persistence.masking.MaskerTestValues.randomData(r);
      String compact = io.orderpush.persistence.masking.MaskerTestValues.compactCopy(data);
      // half of them sent compact (as JSON encoders send it), half as written above
      String sent = r.nextBoolean() ? compact : data;
      NewEvent e = big.parse(event("e" + i, sent).getBytes(StandardCharsets.UTF_8)).get(0);
      assertThat(e.renderedTail()).as(sent).endsWith(",\"data\":" + compact + "}");
      assertThat(e.maskedTail()).as(sent).isEqualTo(masker.maskLine(e.renderedTail()));
      assertPatched(e);
      if (sent.equals(compact) && !compact.contains("\\")) {
        asSent++;
      }
      masked += e.maskedTail() == null ? 0 : 1;
    }
    assertThat(asSent).as("events stored as sent").isGreaterThan(1_000);
    assertThat(masked).as("events with something masked").isGreaterThan(1_000);
  }

  @Test
  void shouldTellCompactDataWithoutEscapesFromEveryOther() {
    String[] plain = {"{}", "{\"a\":\"b c\"}", "{\"a\":[1,true,null,{\"b\":\"张 三\"}]}"};
    String[] other = {"{ }", "{\"a\":1 }", "{\"a\":\"\\\"\"}", "{\"a\":\n1}", "{\"\\u0061\":1}"};
    for (String s : plain) {
      byte[] b = ("x" + s + "y").getBytes(StandardCharsets.UTF_8);
      assertThat(
              io.orderpush.persistence.masking.Utf8Scan.compactWithoutEscapes(b, 1, b.length - 1))
          .as(s)
          .isTrue();
    }
    for (String s : other) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      assertThat(io.orderpush.persistence.masking.Utf8Scan.compactWithoutEscapes(b, 0, b.length))
          .as(s)
          .isFalse();
    }
  }

  @Test
  void shouldCheckCompactDataAgainstTheSizeLimitAndKeepALooseBodyWhoseCopyFits() {
    // 100 bytes allowed: 96 sent compact pass, 101 do not; 120 sent with spaces that copy to 96
    // pass
    String fits = "{\"x\":\"" + "y".repeat(88) + "\"}";
    assertThat(fits.length()).isEqualTo(96);
    assertThat(parse(event("a", fits))).hasSize(1);
    ApiException tooBig = refused(event("b", "{\"x\":\"" + "y".repeat(93) + "\"}"));
    assertThat(tooBig.status()).isEqualTo(413);
    assertThat(parse(event("c", "{ \"x\" :    \"" + "y".repeat(88) + "\" " + " ".repeat(16) + "}")))
        .extracting(NewEvent::renderedTail)
        .allSatisfy(t -> assertThat(t).endsWith(",\"data\":" + fits + "}"));
    // multi-byte characters count as their UTF-8 bytes: with 29 CJK characters data is 95 bytes,
    // with 31 it is 101
    assertThat(parse(event("d", "{\"x\":\"" + "张".repeat(29) + "\"}"))).hasSize(1);
    assertThat(refused(event("e", "{\"x\":\"" + "张".repeat(31) + "\"}")).status()).isEqualTo(413);
  }

  @Test
  void shouldRefuseAnEncodedSurrogateInCompactDataAndKeepAReplacementCharacterAsSent() {
    // ED A0 80 is U+D800 encoded as if it were a character: the parser reads a lone surrogate,
    // which ingest refuses, sent compact or not
    byte[] head = ("[" + event("a", "{\"n\":\"x")).getBytes(StandardCharsets.UTF_8);
    head =
        java.util.Arrays.copyOf(head, head.length - 2); // drop the closing "}" and "}" of event()
    byte[] body =
        concat(
            head,
            new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
            "\"}}]".getBytes(StandardCharsets.UTF_8));
    ApiException e = catchThrowableOfType(ApiException.class, () -> parser.parse(body));
    assertThat(e).as(new String(body, StandardCharsets.UTF_8)).isNotNull();
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.details().get(0).get("problem").toString()).contains("unpaired UTF-16 surrogate");
    // a real U+FFFD is data like any other
    assertThat(parse(event("b", "{\"n\":\"x\uFFFDy\"}")))
        .extracting(NewEvent::renderedTail)
        .allSatisfy(t -> assertThat(t).endsWith(",\"data\":{\"n\":\"x\uFFFDy\"}}"));
  }

  @Test
  void shouldMatchIdsAsTheirPatternsDo() {
    java.util.Random r = new java.util.Random(9);
    String alphabet = "aZ09._:-/ \u00e9\u5f20+";
    int matched = 0;
    for (int i = 0; i < 20_000; i++) {
      StringBuilder sb = new StringBuilder();
      int n = r.nextInt(10) == 0 ? 60 + r.nextInt(10) : r.nextInt(8);
      for (int k = 0; k < n; k++) {
        sb.append(
            r.nextInt(20) == 0
                ? alphabet.charAt(r.nextInt(alphabet.length()))
                : "aZ09._-:".charAt(r.nextInt(8)));
      }
      String s = sb.toString();
      for (java.util.regex.Pattern p : List.of(EventParser.MERCHANT_ID, EventParser.TYPE)) {
        boolean expected = p.matcher(s).matches();
        assertThat(EventParser.matches(s, p)).as(p + " " + s).isEqualTo(expected);
        matched += expected ? 1 : 0;
      }
    }
    assertThat(matched).as("strings that match").isGreaterThan(5_000);
  }

  @Test
  void shouldReadABodyInUtf16AsBefore() {
    // the parser detects UTF-16 and reads characters, with no byte offsets: data is copied
    String body = "[" + event("a", "{\"buyer\":{\"name\":\"张三\"},\"n\":1}") + "]";
    for (java.nio.charset.Charset cs :
        List.of(StandardCharsets.UTF_16LE, StandardCharsets.UTF_16BE, StandardCharsets.UTF_16)) {
      assertThat(parser.parse(body.getBytes(cs)))
          .as(cs.name())
          .singleElement()
          .satisfies(
              e -> {
                assertThat(e.renderedTail())
                    .endsWith(",\"data\":{\"buyer\":{\"name\":\"张三\"},\"n\":1}}");
                assertThat(e.maskedTail())
                    .endsWith(",\"data\":{\"buyer\":{\"name\":\"张*\"},\"n\":1}}");
              });
    }
  }

  /**
   * {@link io.orderpush.persistence.masking.Utf8Scan#compactWithoutEscapes}, one byte at a time.
   */
  static boolean compactWithoutEscapesByteByByte(byte[] b, int from, int to) {
    boolean inString = false;
    for (int i = from; i < to; i++) {
      if (b[i] == '"') {
        inString = !inString;
      } else if (b[i] == '\\') {
        return false;
      } else if (!inString && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) {
        return false;
      }
    }
    return true;
  }

  @Test
  void shouldTellCompactDataAsAByteByByteScanDoesFarFromAnyQuote() {
    // long runs without a quote, so the eight-bytes-at-a-time path meets the whitespace, the
    // backslash or the CJK text itself
    String[] runs = {"x", "张", "1", " ", "\\", "\t", "\n", ",", "\u00e9", "\ud83d\ude00"};
    java.util.Random r = new java.util.Random(17);
    int compact = 0;
    for (int i = 0; i < 20_000; i++) {
      StringBuilder s = new StringBuilder("{\"a\":");
      boolean string = r.nextBoolean();
      s.append(string ? "\"" : "[");
      for (int k = r.nextInt(40); k > 0; k--) {
        String piece = runs[r.nextInt(r.nextInt(10) == 0 ? runs.length : 4)];
        s.append(piece.repeat(1 + r.nextInt(12)));
      }
      s.append(string ? "\"}" : "]}");
      byte[] b = ("ab" + s + "cd").getBytes(StandardCharsets.UTF_8);
      boolean expected = compactWithoutEscapesByteByByte(b, 2, b.length - 2);
      assertThat(
              io.orderpush.persistence.masking.Utf8Scan.compactWithoutEscapes(b, 2, b.length - 2))
          .as(s.toString())
          .isEqualTo(expected);
      compact += expected ? 1 : 0;
    }
    assertThat(compact).as("compact ones").isBetween(2_000, 18_000);
    byte[] spaced = "{\"a\":[1,2,3,4,5,    6,7,8,9,10]}".getBytes(StandardCharsets.UTF_8);
    assertThat(
            io.orderpush.persistence.masking.Utf8Scan.compactWithoutEscapes(
                spaced, 0, spaced.length))
        .isFalse();
    byte[] escaped = "{\"a\":\"xxxxxxxxxx\\u0061xxxxxxxxxx\"}".getBytes(StandardCharsets.UTF_8);
    assertThat(
            io.orderpush.persistence.masking.Utf8Scan.compactWithoutEscapes(
                escaped, 0, escaped.length))
        .isFalse();
  }

  static byte[] concat(byte[]... parts) {
    var out = new java.io.ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  /** The patch the edge made (from its masking pass) gives the masked tail from the plain one. */
  private static void assertPatched(NewEvent e) {
    if (e.maskedTail() == null) {
      assertThat(e.maskPatch()).isNull();
    } else {
      assertThat(e.maskPatch()).as(e.renderedTail()).isNotNull();
      assertThat(io.orderpush.persistence.masking.MaskPatch.apply(e.renderedTail(), e.maskPatch()))
          .as(e.renderedTail())
          .isEqualTo(e.maskedTail());
    }
  }
}
