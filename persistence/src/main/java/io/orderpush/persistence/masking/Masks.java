package io.orderpush.persistence.masking;

/**
 * The shape-keeping masks of guarantee 6 (PRODUCT.md, "Buyer personal data"). Each keeps just
 * enough for display and matching and never more than half of a value. Pure functions of one
 * string; characters are counted in code points, so CJK and emoji count as one.
 */
public final class Masks {

  /** What every other listed value, and any value too short to mask by shape, becomes. */
  public static final String FULL = "****";

  private Masks() {}

  /** Applies the mask of {@code kind} to a string value. */
  public static String apply(MaskKind kind, String value) {
    return switch (kind) {
      case PHONE -> phone(value);
      case NAME -> name(value);
      case ADDRESS -> address(value);
      case EMAIL -> email(value);
      case FULL -> value.isEmpty() ? value : FULL;
    };
  }

  /**
   * Keeps a country prefix ({@code +} and its digits up to a {@code -} or space) and the first 3
   * and last 4 digits of the national number; the digits between become {@code *}, separators stay.
   * {@code +86-13812345678 -> +86-138****5678}. A national number of fewer than 8 digits would keep
   * every digit, so it becomes {@code ****}.
   */
  public static String phone(String value) {
    if (value.isEmpty()) {
      return value;
    }
    int start = 0;
    if (value.charAt(0) == '+') {
      int i = 1;
      while (i < value.length() && isDigit(value.charAt(i))) {
        i++;
      }
      boolean separated =
          i > 1 && i < value.length() && (value.charAt(i) == '-' || value.charAt(i) == ' ');
      start = separated ? i + 1 : 1;
    }
    int digits = 0;
    for (int i = start; i < value.length(); i++) {
      if (isDigit(value.charAt(i))) {
        digits++;
      }
    }
    if (digits < 8) {
      return FULL;
    }
    StringBuilder out = new StringBuilder(value.length()).append(value, 0, start);
    int d = 0;
    for (int i = start; i < value.length(); i++) {
      char c = value.charAt(i);
      if (isDigit(c)) {
        out.append(d < 3 || d >= digits - 4 ? c : '*');
        d++;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  /**
   * Keeps the first character, every other one becomes {@code *}: {@code 张三 -> 张*}, {@code Zhang
   * San -> Z********}. A one-character name becomes {@code *}.
   */
  public static String name(String value) {
    int n = value.codePointCount(0, value.length());
    if (n == 0) {
      return value;
    }
    if (n == 1) {
      return "*";
    }
    int first = value.offsetByCodePoints(0, 1);
    return value.substring(0, first) + "*".repeat(n - 1);
  }

  /**
   * Keeps at most the first 6 characters (province and city) and never more than half: {@code
   * 浙江省杭州市西湖区文三路 100 号 -> 浙江省杭州市****}.
   */
  public static String address(String value) {
    int n = value.codePointCount(0, value.length());
    if (n == 0) {
      return value;
    }
    int keep = Math.min(6, n / 2);
    return value.substring(0, value.offsetByCodePoints(0, keep)) + FULL;
  }

  /**
   * Keeps the first character and the domain: {@code zhang.san@example.com -> z***@example.com}.
   */
  public static String email(String value) {
    int at = value.lastIndexOf('@');
    if (at <= 0) {
      return value.isEmpty() ? value : FULL;
    }
    return value.substring(0, value.offsetByCodePoints(0, 1)) + "***" + value.substring(at);
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }
}
