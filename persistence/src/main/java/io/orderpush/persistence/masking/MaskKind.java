package io.orderpush.persistence.masking;

import java.util.Locale;

/** Which mask a listed path gets: named in the path list, or told by the path's last member. */
public enum MaskKind {
  PHONE,
  NAME,
  ADDRESS,
  EMAIL,
  FULL;

  /**
   * The kind a member's name suggests: {@code phone}, {@code mobile}, {@code tel} -> phone; {@code
   * email}, {@code mail} -> e-mail; {@code name}, {@code nick} -> name; {@code address}, {@code
   * addr} -> address (suffixes count, ignoring case, {@code _} and {@code -}: {@code
   * receiverPhone}, {@code user_name}); anything else -> {@code ****}.
   */
  public static MaskKind forMember(String member) {
    String m = member.toLowerCase(Locale.ROOT).replace("_", "").replace("-", "");
    if (m.endsWith("phone") || m.endsWith("mobile") || m.equals("tel")) {
      return PHONE;
    }
    if (m.endsWith("email") || m.equals("mail")) {
      return EMAIL;
    }
    if (m.endsWith("name") || m.endsWith("nick")) {
      return NAME;
    }
    if (m.endsWith("address") || m.endsWith("addr")) {
      return ADDRESS;
    }
    return FULL;
  }

  /** The kind named {@code word} in a path list, or null. */
  static MaskKind named(String word) {
    for (MaskKind k : values()) {
      if (k.name().equalsIgnoreCase(word)) {
        return k;
      }
    }
    return null;
  }

  String word() {
    return name().toLowerCase(Locale.ROOT);
  }
}
