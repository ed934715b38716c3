package io.orderpush.persistence.masking;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.orderpush.persistence.events.EventJson;
import java.time.Instant;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** What the log stores of a masked rendering gives it back exactly, at a fraction of its size. */
class MaskPatchTest {

  private final Masker masker = new Masker(MaskRules.defaults());
  private final String afterSeq = EventJson.afterSeq(Instant.parse("2026-12-04T10:00:00Z"));

  private String tail(String data) {
    return EventJson.tail("evt-1", "ord-1", "order.paid", "2026-12-04T09:59:59.000Z", data);
  }

  @Test
  void shouldGiveBackTheMaskedLineFromThePlainOneAtATenthOfItsSize() {
    String data =
        "{\"buyer\":{\"id\":\"b-400001\",\"name\":\"Buyer 1\",\"phone\":\"+86-13812345101\"},"
            + "\"receiver\":{\"name\":\"王小明\",\"mobile\":\"13987654101\","
            + "\"address\":\"浙江省杭州市西湖区文三路 1 号\"},\"items\":[{\"sku\":\"SKU-10022-BLK-M\","
            + "\"qty\":2,\"price\":2000}],\"amount\":{\"total\":5499,\"currency\":\"CNY\"}}";
    String masked = masker.maskData(data);
    String patch = MaskPatch.of(tail(data), tail(masked));

    assertThat(patch).isNotNull();
    // made from the tails, it applies to the stored lines, whatever seq leads them
    String line = EventJson.line(1234567, afterSeq, tail(data));
    assertThat(MaskPatch.apply(line, patch))
        .isEqualTo(EventJson.line(1234567, afterSeq, tail(masked)));
    assertThat(patch.length()).isLessThan(line.length() / 4);
    assertThat(patch).doesNotContain("\n").contains("\"B******\"").doesNotContain("文三路");
    // and to the same line inside a chunk's text, without its being copied out first
    String chunk = "{\"seq\":1}\n" + line + "\n{\"seq\":3}";
    int from = chunk.indexOf('\n') + 1;
    assertThat(MaskPatch.apply(chunk, from, from + line.length(), patch))
        .isEqualTo(MaskPatch.apply(line, patch));
  }

  @Test
  void shouldExpressEveryRenderingOfTheMaskerOverRandomValues() throws Exception {
    Random r = new Random(7);
    int patched = 0;
    for (int i = 0; i < 20_000; i++) {
      // as ingest stores data: compact
      String data =
          MaskerTestValues.compactCopy("{\"buyer\":" + MaskerTestValues.randomValue(r, 4) + "}");
      String masked = masker.maskData(data);
      if (masked == null) {
        continue;
      }
      String patch = MaskPatch.of(tail(data), tail(masked));
      assertThat(patch).as("patch of %s", data).isNotNull().doesNotContain("\n");
      String line = EventJson.line(i + 1, afterSeq, tail(data));
      assertThat(MaskPatch.apply(line, patch))
          .as("patched %s", data)
          .isEqualTo(EventJson.line(i + 1, afterSeq, tail(masked)));
      patched++;
    }
    assertThat(patched).as("random values with something to mask").isGreaterThan(500);
  }

  @Test
  void shouldMaskNumbersBooleansAndEscapedStrings() {
    String plain =
        "\"data\":{\"phone\":13812345678,\"email\":false,\"name\":\"a\\\"b\\\\c\\u00e9\"}}";
    String masked = "\"data\":{\"phone\":\"****\",\"email\":\"****\",\"name\":\"a********\"}}";
    String patch = MaskPatch.of(plain, masked);
    assertThat(patch).isNotNull();
    assertThat(MaskPatch.apply(plain, patch)).isEqualTo(masked);
  }

  @Test
  void shouldRefuseRenderingsThatDifferOtherwiseThanByMasks() {
    // structure changed, a number replaced by a number, nothing replaced
    assertThat(MaskPatch.of("{\"a\":[1]}", "{\"a\":\"****\"}")).isNull();
    assertThat(MaskPatch.of("{\"a\":12}", "{\"a\":13}")).isNull();
    assertThat(MaskPatch.of("{\"a\":\"x\"}", "{\"a\":\"x\"}")).as("nothing differs").isNull();
    assertThat(MaskPatch.of("{\"a\":\"x\",\"b\":1}", "{\"a\":\"x\"}")).as("shorter").isNull();
  }

  @Test
  void shouldOnlyEverGiveAPatchThatRebuildsTheMaskedTextExactly() {
    // not a mask, but strings replaced by strings: expressed, and exactly
    String plain = "{\"a\":\"x\",\"b\":[\"y\",2]}";
    String other = "{\"c\":\"x\",\"b\":[\"zz\",\"2\"]}";
    assertThat(MaskPatch.apply(plain, MaskPatch.of(plain, other))).isEqualTo(other);
  }

  @Test
  void shouldRefuseAPatchThatDoesNotFitItsLine() {
    assertThatThrownBy(() -> MaskPatch.apply("{\"a\":1}", "99,2,\"**\""))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> MaskPatch.apply("{\"a\":1}", "2,1"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> MaskPatch.apply("{\"a\":1}", "x,1,\"*\""))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
