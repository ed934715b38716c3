package io.orderpush.persistence.masking;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MaskRulesTest {

  @Test
  void shouldCoverBuyerReceiverAndShippingAddressByDefault() {
    assertThat(MaskRules.defaults().rules())
        .extracting(MaskRules.Rule::toString)
        .containsExactlyInAnyOrder(
            "buyer.name:name",
            "buyer.nick:name",
            "buyer.phone:phone",
            "buyer.mobile:phone",
            "buyer.email:email",
            "buyer.address:address",
            "receiver.name:name",
            "receiver.nick:name",
            "receiver.phone:phone",
            "receiver.mobile:phone",
            "receiver.email:email",
            "receiver.address:address",
            "address:address");
  }

  @Test
  void shouldTellTheMaskFromTheLastMemberUnlessNamed() {
    MaskRules r = MaskRules.parse("contact.receiverPhone, user_name ,extra.idCard,note:name");
    assertThat(r.rules())
        .extracting(MaskRules.Rule::toString)
        .containsExactly(
            "contact.receiverPhone:phone", "user_name:name", "extra.idCard:full", "note:name");
  }

  @Test
  void shouldGiveTheSameFingerprintToTheSameListInAnyOrderAndAnotherToAnotherList() {
    MaskRules a = MaskRules.parse("buyer.phone,address");
    assertThat(MaskRules.parse("address, buyer.phone").fingerprint()).isEqualTo(a.fingerprint());
    assertThat(MaskRules.parse("buyer.phone:phone,address:address").fingerprint())
        .isEqualTo(a.fingerprint());
    assertThat(MaskRules.parse("buyer.phone,address:full").fingerprint())
        .isNotEqualTo(a.fingerprint());
    assertThat(a.fingerprint()).startsWith(MaskRules.MASKS_VERSION + "-").hasSize(19);
  }

  @Test
  void shouldRefuseBadListsNamingTheEntry() {
    assertThatThrownBy(() -> MaskRules.parse("")).hasMessageContaining("at least one path");
    assertThatThrownBy(() -> MaskRules.parse("buyer.phone,,address"))
        .hasMessageContaining("empty path");
    assertThatThrownBy(() -> MaskRules.parse("buyer..phone"))
        .hasMessageContaining("'buyer..phone'");
    assertThatThrownBy(() -> MaskRules.parse("buyer.phone:secret"))
        .hasMessageContaining("phone, name, address, email or full");
    assertThatThrownBy(() -> MaskRules.parse("address,address:full"))
        .hasMessageContaining("'address' is listed twice");
    assertThatThrownBy(() -> MaskRules.parse("a.\"b")).hasMessageContaining("quotes, backslashes");
    assertThatThrownBy(() -> MaskRules.parse("buyer.na\u0001me"))
        .hasMessageContaining("control characters");
    assertThatThrownBy(() -> MaskRules.parse("buyer\u007f.name"))
        .hasMessageContaining("control characters");
    assertThatThrownBy(() -> MaskRules.parse("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q"))
        .hasMessageContaining("at most 16");
  }
}
