package io.orderpush.persistence.masking;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The masks of PRODUCT.md, "Buyer personal data (guarantee 6)", its examples verbatim first. */
class MasksTest {

  @Test
  void shouldMaskPhonesAsProductMdShows() {
    assertThat(Masks.phone("13812345678")).isEqualTo("138****5678");
    assertThat(Masks.phone("+86-13812345678")).isEqualTo("+86-138****5678");
  }

  @Test
  void shouldMaskNamesAsProductMdShows() {
    assertThat(Masks.name("张三")).isEqualTo("张*");
    assertThat(Masks.name("Zhang San")).isEqualTo("Z********");
  }

  @Test
  void shouldMaskAddressesAsProductMdShows() {
    assertThat(Masks.address("浙江省杭州市西湖区文三路 100 号")).isEqualTo("浙江省杭州市****");
  }

  @Test
  void shouldMaskEmailAsProductMdShows() {
    assertThat(Masks.email("zhang.san@example.com")).isEqualTo("z***@example.com");
  }

  @Test
  void shouldKeepCountryPrefixWithSpaceAndSeparatorsInsideTheNationalNumber() {
    assertThat(Masks.phone("+1 4155550123")).isEqualTo("+1 415***0123");
    assertThat(Masks.phone("138-1234-5678")).isEqualTo("138-****-5678");
    assertThat(Masks.phone("0571-88881234")).isEqualTo("057*-****1234");
  }

  @Test
  void shouldKeepOnlyThePlusWhenThePrefixIsNotSeparated() {
    assertThat(Masks.phone("+8613812345678")).isEqualTo("+861******5678");
  }

  @Test
  void shouldHidePhonesTooShortToKeepSevenDigitsOf() {
    assertThat(Masks.phone("5551234")).isEqualTo("****");
    assertThat(Masks.phone("+86-1234567")).isEqualTo("****");
    assertThat(Masks.phone("unknown")).isEqualTo("****");
  }

  @Test
  void shouldCountCharactersNotUtf16UnitsInNames() {
    assertThat(Masks.name("欧阳娜娜")).isEqualTo("欧***");
    assertThat(Masks.name("𠀀三")).isEqualTo("𠀀*"); // a supplementary character kept whole
    assertThat(Masks.name("张")).isEqualTo("*");
    assertThat(Masks.name("")).isEqualTo("");
  }

  @Test
  void shouldKeepAtMostHalfOfAShortAddress() {
    assertThat(Masks.address("文三路100号")).isEqualTo("文三路****");
    assertThat(Masks.address("1 Main St, Springfield")).isEqualTo("1 Main****");
    assertThat(Masks.address("杭州")).isEqualTo("杭****");
  }

  @Test
  void shouldHideEmailWithoutLocalPartOrAt() {
    assertThat(Masks.email("@example.com")).isEqualTo("****");
    assertThat(Masks.email("not an address")).isEqualTo("****");
    assertThat(Masks.email("z@example.com")).isEqualTo("z***@example.com");
  }

  @Test
  void shouldHideAnythingElseOnTheList() {
    assertThat(Masks.apply(MaskKind.FULL, "VIP gold, ID 330106199001011234")).isEqualTo("****");
    assertThat(Masks.apply(MaskKind.FULL, "")).isEqualTo("");
  }
}
