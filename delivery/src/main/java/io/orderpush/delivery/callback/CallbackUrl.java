package io.orderpush.delivery.callback;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.regex.Pattern;

/**
 * A callback URL that parsed: lowercase http or https, a host, a port from 1 to 65535, no user
 * info, ASCII only. Parsing never looks the host up; whether it may be reached is {@link
 * SsrfGuard}'s decision.
 */
public record CallbackUrl(URI uri, String host, int port, boolean https) {

  static final int MAX_HOST = 253;
  static final int MAX_LABEL = 63;

  private static final Pattern PRINTABLE_ASCII = Pattern.compile("[\\x21-\\x7e]*");

  /**
   * @throws CallbackUrlRefusedException saying what is wrong; {@link
   *     CallbackUrlRefusedException#malformed()} unless the URL parsed but names a host in a form
   *     callbacks refuse
   */
  public static CallbackUrl parse(String raw) {
    if (!PRINTABLE_ASCII.matcher(raw).matches()) {
      throw malformed(
          "must be printable ASCII without spaces: percent-encode the path and query, and write"
              + " international host names in punycode (xn--...)");
    }
    URI u;
    try {
      u = new URI(raw);
    } catch (URISyntaxException e) {
      throw malformed("is not a URL: " + e.getReason() + " at index " + e.getIndex());
    }
    if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())) {
      throw malformed("must start with http:// or https:// (lowercase)");
    }
    if (u.isOpaque() || u.getRawAuthority() == null || u.getRawAuthority().isEmpty()) {
      throw malformed("must name a host: http://host/path or https://host/path");
    }
    if (u.getRawUserInfo() != null || u.getRawAuthority().contains("@")) {
      throw malformed("must not carry user info (user@host)");
    }
    String host = u.getHost();
    if (host == null) {
      // java.net.URI fell back to a registry authority: the host or the port is not valid.
      String authority = u.getRawAuthority();
      int colon = authority.lastIndexOf(':');
      String hostText = colon < 0 ? authority : authority.substring(0, colon);
      if (colon >= 0) {
        port(authority.substring(colon + 1));
      }
      if (hostText.isEmpty()) {
        throw malformed("must name a host: http://host/path or https://host/path");
      }
      HostForms.refuseAmbiguousNumber(hostText);
      throw malformed(
          "has host "
              + hostText
              + ", which is neither a host name (letters, digits and hyphens in dot-separated"
              + " labels) nor an IP address");
    }
    if (u.getPort() != -1 && (u.getPort() < 1 || u.getPort() > 65535)) {
      throw malformed("has port " + u.getPort() + "; ports are 1 to 65535");
    }
    String bare = HostForms.bare(host);
    if (!host.startsWith("[")) {
      String name = bare.endsWith(".") ? bare.substring(0, bare.length() - 1) : bare;
      if (name.length() > MAX_HOST) {
        throw malformed(
            "has a host name of "
                + name.length()
                + " characters; at most "
                + MAX_HOST
                + " allowed");
      }
      for (String label : name.split("\\.")) {
        if (label.length() > MAX_LABEL) {
          throw malformed(
              "has a host name label of "
                  + label.length()
                  + " characters; at most "
                  + MAX_LABEL
                  + " allowed");
        }
      }
    }
    HostForms.refuseAmbiguousNumber(bare);
    HostForms.refuseZoneId(bare);
    boolean https = "https".equals(u.getScheme());
    return new CallbackUrl(u, host, u.getPort() != -1 ? u.getPort() : https ? 443 : 80, https);
  }

  private static void port(String text) {
    if (text.isEmpty()) {
      return;
    }
    if (!text.matches("[0-9]{1,5}")
        || Integer.parseInt(text) < 1
        || Integer.parseInt(text) > 65535) {
      throw malformed("has port " + text + "; ports are 1 to 65535");
    }
  }

  private static CallbackUrlRefusedException malformed(String problem) {
    return CallbackUrlRefusedException.malformed("callback URL " + problem);
  }
}
