package io.orderpush.delivery.callback;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Hosts and CIDR ranges an operator allows callbacks to reach although they are private. */
public final class Allowlist {

  private final List<String> hosts = new ArrayList<>();
  private final List<Cidr> ranges = new ArrayList<>();

  /**
   * @param spec comma-separated host names, IP addresses and CIDRs, e.g. {@code
   *     127.0.0.1,10.0.0.0/8,hooks.local}
   * @throws IllegalArgumentException naming the entry that is not valid
   */
  public static Allowlist parse(String spec) {
    Allowlist a = new Allowlist();
    for (String raw : spec.split(",")) {
      String e = raw.trim().toLowerCase(Locale.ROOT);
      if (e.isEmpty()) {
        continue;
      }
      if (e.startsWith("[") && e.endsWith("]")) {
        e = e.substring(1, e.length() - 1);
      }
      int slash = e.indexOf('/');
      String address = slash < 0 ? e : e.substring(0, slash);
      if (isLiteral(address)) {
        byte[] bytes = literal(address);
        int bits = slash < 0 ? bytes.length * 8 : Integer.parseInt(e.substring(slash + 1));
        if (bits < 0 || bits > bytes.length * 8) {
          throw new IllegalArgumentException("bad prefix length in " + raw.trim());
        }
        a.ranges.add(new Cidr(bytes, bits));
      } else if (slash < 0 && e.matches("[a-z0-9.-]+")) {
        a.hosts.add(e);
      } else {
        throw new IllegalArgumentException("not a host, IP address or CIDR: " + raw.trim());
      }
    }
    return a;
  }

  public boolean allowsHost(String host) {
    return hosts.contains(host.toLowerCase(Locale.ROOT));
  }

  public boolean allowsAddress(InetAddress address) {
    return ranges.stream().anyMatch(r -> r.contains(address));
  }

  static boolean isLiteral(String s) {
    return s.matches("[0-9.]+") && s.chars().filter(c -> c == '.').count() == 3 || s.contains(":");
  }

  /** Parses an IP literal without any DNS lookup. */
  static byte[] literal(String s) {
    try {
      if (!isLiteral(s)) {
        throw new IllegalArgumentException("not an IP address: " + s);
      }
      return InetAddress.getByName(s).getAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IP address: " + s, e);
    }
  }
}
