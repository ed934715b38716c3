package io.orderpush.delivery.callback;

import java.net.InetAddress;

/** An address range: the first {@code bits} bits of {@code network}. */
record Cidr(byte[] network, int bits) {

  /** {@code literal/bits} of an IP literal, parsed without DNS; IPv6 literals stay 16 bytes. */
  static Cidr of(String literal, int bits) {
    byte[] network = Allowlist.literal(literal);
    if (network.length == 4 && literal.contains(":")) {
      // InetAddress turns ::ffff:a.b.c.d into a.b.c.d; keep the IPv6 form the range was written in.
      byte[] mapped = new byte[16];
      mapped[10] = (byte) 0xff;
      mapped[11] = (byte) 0xff;
      System.arraycopy(network, 0, mapped, 12, 4);
      network = mapped;
    }
    if (bits < 0 || bits > network.length * 8) {
      throw new IllegalArgumentException("bad prefix length " + bits + " for " + literal);
    }
    return new Cidr(network, bits);
  }

  boolean contains(InetAddress a) {
    return contains(a.getAddress());
  }

  boolean contains(byte[] b) {
    if (b.length != network.length) {
      return false;
    }
    int full = bits / 8;
    for (int i = 0; i < full; i++) {
      if (b[i] != network[i]) {
        return false;
      }
    }
    int rest = bits % 8;
    if (rest == 0) {
      return true;
    }
    int mask = 0xff << (8 - rest) & 0xff;
    return (b[full] & mask) == (network[full] & mask);
  }
}
