package io.orderpush.gateway.http;

/**
 * JSON may carry {@code \ud800}-style escapes of half a surrogate pair, which Java strings hold but
 * UTF-8 cannot encode: PostgreSQL and every wire would get a replacement character instead, so two
 * different strings would become equal. Inputs are refused when they carry one.
 */
public final class Utf16 {

  public static final String LONE_SURROGATE =
      "must not contain unpaired UTF-16 surrogates (a \\uD800-\\uDFFF escape without its pair)";

  private Utf16() {}

  /** Whether {@code s} holds a surrogate that is not half of a well-formed pair. */
  public static boolean hasLoneSurrogate(CharSequence s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)
          && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return true;
      }
    }
    return false;
  }
}
