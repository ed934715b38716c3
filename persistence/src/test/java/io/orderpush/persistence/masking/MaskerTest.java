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
}
