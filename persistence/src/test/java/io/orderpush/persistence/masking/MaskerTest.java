package io.orderpush.persistence.masking;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MaskerTest {

  final Masker defaults = new Masker(MaskRules.defaults());

  @Test
  void shouldMaskListedMembersAndKeepEveryOtherByte() {
    String data =
        "{\"buyer\":{\"id\":\"b-1\",\"name\":\"张三\",\"phone\":\"+86-13812345678\","
            + "\"email\":\"zhang.san@example.com\",\"level\":3},"
            + "\"receiver\":{\"name\":\"Zhang San\",\"mobile\":\"13812345678\","
            + "\"address\":\"浙江省杭州市西湖区文三路 100 号\"},"
            + "\"address\":\"浙江省杭州市西湖区文三路 100 号\","
            + "\"amount\":{\"total\":12.50,\"big\":1E+400,\"currency\":\"CNY\"},"
            + "\"note\":\"call 13812345678\"}";
    assertThat(defaults.maskData(data))
        .isEqualTo(
            "{\"buyer\":{\"id\":\"b-1\",\"name\":\"张*\",\"phone\":\"+86-138****5678\","
                + "\"email\":\"z***@example.com\",\"level\":3},"
                + "\"receiver\":{\"name\":\"Z********\",\"mobile\":\"138****5678\","
                + "\"address\":\"浙江省杭州市****\"},"
                + "\"address\":\"浙江省杭州市****\","
                + "\"amount\":{\"total\":12.50,\"big\":1E+400,\"currency\":\"CNY\"},"
                + "\"note\":\"call 13812345678\"}");
  }

  @Test
  void shouldReturnNullWhenNothingIsListedOrEverythingListedIsEmpty() {
    assertThat(defaults.maskData("{\"items\":[{\"sku\":\"A\"}],\"total\":1}")).isNull();
    assertThat(defaults.maskData("{\"buyer\":\"b-1\",\"amount\":12.5}")).isNull();
    assertThat(defaults.maskData("{\"buyer\":{\"id\":\"b-1\",\"name\":\"\",\"phone\":null}}"))
        .isNull();
  }

  @Test
  void shouldHideEveryPartOfAListedAddressObjectWhole() {
    String data =
        "{\"address\":{\"province\":\"浙江省\",\"city\":\"杭州市\",\"lines\":[\"西湖区文三路 100 号\","
            + "\"3 单元\"],\"zip\":310000,\"default\":true,\"door\":null},\"id\":7}";
    assertThat(defaults.maskData(data))
        .isEqualTo(
            "{\"address\":{\"province\":\"****\",\"city\":\"****\",\"lines\":[\"****\","
                + "\"****\"],\"zip\":\"****\",\"default\":\"****\",\"door\":null},\"id\":7}");
  }

  @Test
  void shouldKeepTheShapesOfNamedMembersInsideAListedObject() {
    Masker m = new Masker(MaskRules.parse("buyer"));
    assertThat(
            m.maskData(
                "{\"buyer\":{\"id\":\"b-1\",\"name\":\"张三\",\"phones\":[\"13812345678\"],"
                    + "\"contact\":{\"email\":\"zhang.san@example.com\"}}}"))
        .isEqualTo(
            "{\"buyer\":{\"id\":\"****\",\"name\":\"张*\",\"phones\":[\"****\"],"
                + "\"contact\":{\"email\":\"z***@example.com\"}}}");
  }

  @Test
  void shouldMaskEachElementOfAListedArrayByThePathsMask() {
    assertThat(defaults.maskData("{\"buyer\":{\"phone\":[\"13812345678\",\"+86-13900001111\"]}}"))
        .isEqualTo("{\"buyer\":{\"phone\":[\"138****5678\",\"+86-139****1111\"]}}");
  }

  @Test
  void shouldHideNumbersAndBooleansAtListedPaths() {
    assertThat(defaults.maskData("{\"buyer\":{\"phone\":13812345678,\"email\":false}}"))
        .isEqualTo("{\"buyer\":{\"phone\":\"****\",\"email\":\"****\"}}");
  }

  @Test
  void shouldLookIntoArraysOnTheWayToAListedMember() {
    Masker m = new Masker(MaskRules.parse("receivers.phone"));
    assertThat(
            m.maskData(
                "{\"receivers\":[{\"phone\":\"13812345678\"},{\"phone\":\"13900001111\"},7]}"))
        .isEqualTo("{\"receivers\":[{\"phone\":\"138****5678\"},{\"phone\":\"139****1111\"},7]}");
  }

  @Test
  void shouldFollowACustomPathListOnly() {
    Masker m = new Masker(MaskRules.parse("customer.contact.tel,customer.idCard,memo:name"));
    String data =
        "{\"buyer\":{\"name\":\"张三\"},\"customer\":{\"contact\":{\"tel\":\"13812345678\"},"
            + "\"idCard\":\"330106199001011234\"},\"memo\":\"李四\"}";
    assertThat(m.maskData(data))
        .isEqualTo(
            "{\"buyer\":{\"name\":\"张三\"},\"customer\":{\"contact\":{\"tel\":\"138****5678\"},"
                + "\"idCard\":\"****\"},\"memo\":\"李*\"}");
  }

  @Test
  void shouldMaskOnlyTheDataOfAStoredLine() {
    String line =
        "{\"seq\":3,\"ingestedAt\":\"2026-11-11T00:00:00.000Z\",\"eventId\":\"e,\\\"data\\\":{\","
            + "\"orderId\":\"o\",\"type\":\"order.paid\",\"occurredAt\":\"2026-11-11T00:00:00Z\","
            + "\"data\":{\"buyer\":{\"name\":\"张三\"}}}";
    assertThat(defaults.maskLine(line))
        .isEqualTo(line.replace("\"name\":\"张三\"", "\"name\":\"张*\""));
    assertThat(defaults.maskLine(line.replace("buyer", "seller"))).isNull();
  }

  @Test
  void shouldFindInTheBytesWhatMaskingTheCompactCopyGives() throws Exception {
    com.fasterxml.jackson.core.JsonFactory json = new com.fasterxml.jackson.core.JsonFactory();
    java.util.Random r = new java.util.Random(7);
    int tried = 0;
    int masked = 0;
    for (int i = 0; i < 20_000; i++) {
      String data = MaskerTestValues.randomData(r);
      String compact = MaskerTestValues.compactCopy(data);
      if (compact.contains("\\")) {
        continue; // find's spans are for values without escapes
      }
      tried++;
      // other bytes before and after, as in a request body: spans are offsets in the whole input
      byte[] body = ("[1," + compact + ",2]").getBytes(java.nio.charset.StandardCharsets.UTF_8);
      Masker.Found found;
      int from;
      int to;
      try (com.fasterxml.jackson.core.JsonParser p = json.createParser(body)) {
        p.nextToken();
        p.nextToken();
        p.nextToken();
        from = (int) p.currentTokenLocation().getByteOffset();
        found = defaults.find(p, 32);
        to = (int) p.currentLocation().getByteOffset();
      }
      assertThat(found.fits()).isTrue();
      assertThat(new String(body, from, to - from, java.nio.charset.StandardCharsets.UTF_8))
          .isEqualTo(compact);
      String expected = defaults.maskData(compact);
      Masker.Copied copied = found.inText(body, from, to);
      assertThat(copied.splices(compact)).as("spliced, not walked again: " + compact).isTrue();
      assertThat(copied.masked(compact)).as(compact).isEqualTo(expected);
      masked += expected == null ? 0 : 1;
    }
    assertThat(tried).as("values without escapes").isGreaterThan(5_000);
    assertThat(masked).as("cases with something masked").isGreaterThan(1_000);
  }

  @Test
  void shouldCountTheCharactersOfUtf8AsDecodingDoes() {
    java.util.Random r = new java.util.Random(3);
    String[] pieces = {"a", "é", "张", "\ud83d\ude00", "\"", "\u07ff", "\uffff", "\ud800\udc00"};
    for (int i = 0; i < 2_000; i++) {
      StringBuilder sb = new StringBuilder();
      for (int k = r.nextInt(40); k > 0; k--) {
        sb.append(pieces[r.nextInt(pieces.length)]);
      }
      byte[] b = ("xy" + sb + "z").getBytes(java.nio.charset.StandardCharsets.UTF_8);
      assertThat(Utf8Scan.chars(b, 2, b.length - 1)).as(sb.toString()).isEqualTo(sb.length());
    }
  }

  @Test
  void shouldFindTooDeepPastTheLimit() throws Exception {
    com.fasterxml.jackson.core.JsonFactory json = new com.fasterxml.jackson.core.JsonFactory();
    try (com.fasterxml.jackson.core.JsonParser p =
        json.createParser("{\"buyer\":{\"a\":[[{\"name\":\"x\"}]]}}")) {
      p.nextToken();
      assertThat(defaults.find(p, 4).fits()).isFalse();
      assertThat(p.currentToken()).isEqualTo(com.fasterxml.jackson.core.JsonToken.END_OBJECT);
      assertThat(p.nextToken()).isNull();
    }
  }

  @Test
  void shouldCopyAndMaskInOnePassAsCopyingThenMaskingWould() throws Exception {
    com.fasterxml.jackson.core.JsonFactory json = new com.fasterxml.jackson.core.JsonFactory();
    java.util.Random r = new java.util.Random(5);
    int masked = 0;
    for (int i = 0; i < 20_000; i++) {
      String data = MaskerTestValues.randomData(r);
      // the generator has written other values before (as ingest's reused one has): spans count
      // from where this value starts
      java.io.StringWriter plain = new java.io.StringWriter();
      plain.write("[earlier]");
      Masker.Copied copied;
      String compact;
      try (com.fasterxml.jackson.core.JsonParser p =
              json.createParser(data.getBytes(java.nio.charset.StandardCharsets.UTF_8));
          com.fasterxml.jackson.core.JsonGenerator g = json.createGenerator(plain)) {
        g.setRootValueSeparator(null);
        p.nextToken();
        copied =
            defaults.copyAndMask(
                p, g, () -> plain.getBuffer().length() + g.getOutputBuffered(), 32);
        g.flush();
        compact = plain.toString().substring("[earlier]".length());
      }
      assertThat(copied.fits()).isTrue();
      assertThat(compact).doesNotContain(" : ");
      String expected = defaults.maskData(compact);
      assertThat(copied.masked(compact)).as(data).isEqualTo(expected);
      // the patch of a text that goes on past the copy gives the masked text from the plain one
      String patch = copied.patch(compact, 1);
      if (expected == null) {
        assertThat(patch).as(data).isNull();
      } else {
        assertThat(patch).as(data).isNotNull().doesNotContain("\n");
        assertThat(MaskPatch.apply("{\"data\":" + compact + "}", patch))
            .as(data)
            .isEqualTo("{\"data\":" + expected + "}");
      }
      masked += expected == null ? 0 : 1;
    }
    assertThat(masked).as("cases with something masked").isGreaterThan(2000);
  }

  @Test
  void shouldMaskTheCopyWholeWhenItsGeneratorWritesOtherwiseThanAssumed() throws Exception {
    // A pretty printer writes " : " before a value: the spans no longer hold whole scalars, and
    // the masked rendering is made by walking the copy itself instead of splicing into it (not
    // by maskData, whose shortcut looks for compact member names and would find none here).
    com.fasterxml.jackson.core.JsonFactory json = new com.fasterxml.jackson.core.JsonFactory();
    String data = "{\"buyer\":{\"name\":\"张三\",\"phone\":13812345678},\"x\":[1,2]}";
    java.io.StringWriter plain = new java.io.StringWriter();
    Masker.Copied copied;
    try (com.fasterxml.jackson.core.JsonParser p = json.createParser(data);
        com.fasterxml.jackson.core.JsonGenerator g =
            json.createGenerator(plain).useDefaultPrettyPrinter()) {
      p.nextToken();
      copied =
          defaults.copyAndMask(p, g, () -> plain.getBuffer().length() + g.getOutputBuffered(), 32);
    }
    String copy = plain.toString();
    assertThat(copy).contains(" : ");
    assertThat(defaults.maskData(copy)).as("the shortcut finds no compact name").isNull();
    assertThat(copied.masked(copy))
        .isEqualTo("{\"buyer\":{\"name\":\"张*\",\"phone\":\"****\"},\"x\":[1,2]}");
  }

  @Test
  void shouldSayTooDeepPastTheLimitAndSkipToTheValuesEnd() throws Exception {
    com.fasterxml.jackson.core.JsonFactory json = new com.fasterxml.jackson.core.JsonFactory();
    for (String data :
        new String[] {
          "{\"a\":{\"b\":{\"c\":1}}}",
          "{\"buyer\":{\"b\":[{\"c\":1}]}}",
          "{\"buyer\":{\"name\":{\"c\":{}}}}",
          "{\"x\":[[[[]]]]}"
        }) {
      try (com.fasterxml.jackson.core.JsonParser p = json.createParser(data + "\"after\"");
          com.fasterxml.jackson.core.JsonGenerator g =
              json.createGenerator(new java.io.StringWriter())) {
        p.nextToken();
        assertThat(defaults.copyAndMask(p, g, g::getOutputBuffered, 2).fits()).as(data).isFalse();
        assertThat(p.nextToken()).as("at the end of the value: " + data).isNotNull();
        assertThat(p.getText()).isEqualTo("after");
      }
      try (com.fasterxml.jackson.core.JsonParser p = json.createParser(data);
          com.fasterxml.jackson.core.JsonGenerator g =
              json.createGenerator(new java.io.StringWriter())) {
        p.nextToken();
        assertThat(defaults.copyAndMask(p, g, g::getOutputBuffered, 5).fits()).as(data).isTrue();
      }
    }
  }
}
