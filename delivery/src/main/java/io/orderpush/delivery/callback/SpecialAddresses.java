package io.orderpush.delivery.callback;

import java.net.InetAddress;
import java.util.List;

/**
 * The special-purpose address ranges callbacks may not reach by default: ranges that are, or on
 * some networks route to, hosts inside the operator's network. IPv6 forms that carry an IPv4
 * address (mapped, NAT64, 6to4, Teredo) are judged by the address they carry.
 */
final class SpecialAddresses {

  private record Range(Cidr cidr, String why) {}

  private static final List<Range> IPV4 =
      List.of(
          range("0.0.0.0", 8, "unspecified"),
          range("10.0.0.0", 8, "private"),
          range("100.64.0.0", 10, "carrier-grade NAT"),
          range("127.0.0.0", 8, "loopback"),
          range("169.254.0.0", 16, "link-local"),
          range("172.16.0.0", 12, "private"),
          range("192.0.0.0", 24, "IETF protocol assignment"),
          range("192.168.0.0", 16, "private"),
          range("198.18.0.0", 15, "benchmarking"),
          range("224.0.0.0", 4, "multicast"),
          range("255.255.255.255", 32, "broadcast"),
          range("240.0.0.0", 4, "reserved"));

  private static final List<Range> IPV6 =
      List.of(
          range("::", 128, "unspecified"),
          range("::1", 128, "loopback"),
          range("64:ff9b:1::", 48, "local-use NAT64"),
          range("fc00::", 7, "private (unique local)"),
          range("fe80::", 10, "link-local"),
          range("fec0::", 10, "private (site-local)"),
          range("ff00::", 8, "multicast"),
          // Deprecated IPv4-compatible addresses; nothing public lives there.
          range("::", 96, "IPv4-compatible"));

  private static final Cidr MAPPED = Cidr.of("::ffff:0:0", 96);
  private static final Cidr NAT64 = Cidr.of("64:ff9b::", 96);
  private static final Cidr SIX_TO_FOUR = Cidr.of("2002::", 16);
  private static final Cidr TEREDO = Cidr.of("2001::", 32);

  private SpecialAddresses() {}

  /** Why callbacks may not reach {@code a} by default, or null if it is a public address. */
  static String forbidden(InetAddress a) {
    return forbidden(a.getAddress());
  }

  private static String forbidden(byte[] b) {
    if (b.length == 4) {
      return first(IPV4, b);
    }
    if (MAPPED.contains(b)) {
      return carried("IPv4-mapped", b, 12, false);
    }
    if (NAT64.contains(b)) {
      return carried("NAT64", b, 12, false);
    }
    if (SIX_TO_FOUR.contains(b)) {
      return carried("6to4", b, 2, false);
    }
    if (TEREDO.contains(b)) {
      // The Teredo client's IPv4 address is stored inverted in the last four bytes.
      return carried("Teredo", b, 12, true);
    }
    return first(IPV6, b);
  }

  private static String carried(String form, byte[] b, int at, boolean inverted) {
    byte[] v4 = new byte[4];
    for (int i = 0; i < 4; i++) {
      v4[i] = (byte) (inverted ? ~b[at + i] : b[at + i]);
    }
    String why = first(IPV4, v4);
    return why == null ? null : form + " form of a " + why;
  }

  private static String first(List<Range> ranges, byte[] b) {
    for (Range r : ranges) {
      if (r.cidr().contains(b)) {
        return r.why();
      }
    }
    return null;
  }

  private static Range range(String literal, int bits, String why) {
    return new Range(Cidr.of(literal, bits), why);
  }
}
