package io.orderpush.delivery.callback;

import java.util.regex.Pattern;

/**
 * Host spellings callbacks refuse before any lookup, because resolvers disagree about them: numeric
 * hosts other than a dotted quad of decimals ({@code 0x7f000001}, {@code 0177.0.0.1}, {@code
 * 127.1}, {@code 2130706433} all mean 127.0.0.1 to curl or a browser, but not to Java), and IPv6
 * zone ids, which pick a network interface of the gateway's host.
 */
final class HostForms {

  /** The last label decides: browsers (WHATWG URL) parse a host ending in a number as IPv4. */
  private static final Pattern NUMERIC_LABEL = Pattern.compile("[0-9]+|0[xX][0-9a-fA-F]*");

  private static final Pattern DOTTED_QUAD =
      Pattern.compile(
          "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
              + "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])");

  private HostForms() {}

  /** The host without the brackets of an IPv6 literal. */
  static String bare(String host) {
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  static boolean isAmbiguousNumber(String host) {
    if (host.contains(":")) {
      return false;
    }
    String name = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
    String last = name.substring(name.lastIndexOf('.') + 1);
    return NUMERIC_LABEL.matcher(last).matches() && !DOTTED_QUAD.matcher(host).matches();
  }

  static void refuseAmbiguousNumber(String host) {
    if (isAmbiguousNumber(host)) {
      throw new CallbackUrlRefusedException(
          "callback host "
              + host
              + " is a numeric form that resolvers read differently (hex, octal, fewer than four"
              + " parts or one integer can all mean 127.0.0.1); write an IPv4 address as four"
              + " decimal numbers, like 203.0.113.7");
    }
  }

  static void refuseZoneId(String host) {
    if (host.contains("%")) {
      throw new CallbackUrlRefusedException(
          "callback host "
              + host
              + " carries an IPv6 zone id (%...), which picks a network interface of the gateway;"
              + " zone ids are not allowed");
    }
  }
}
