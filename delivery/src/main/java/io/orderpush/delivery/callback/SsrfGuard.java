package io.orderpush.delivery.callback;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;

/**
 * Decides which addresses callbacks may reach: no loopback, private, link-local, multicast,
 * carrier-grade NAT or unspecified address, unless the operator's allow-list names the host or the
 * address. Delivery connects to exactly the address checked here, so a DNS answer that changes
 * between check and connect (rebinding) cannot slip through.
 */
public final class SsrfGuard {

  private final Vertx vertx;
  private final Allowlist allowlist;

  public SsrfGuard(Vertx vertx, Allowlist allowlist) {
    this.vertx = vertx;
    this.allowlist = allowlist;
  }

  /**
   * Checks a URL at registration: scheme, host and every address the host resolves to. A host that
   * does not resolve yet is accepted: every delivery checks again before it connects.
   */
  public Future<Void> check(String url) {
    URI u;
    try {
      u = new URI(url);
    } catch (java.net.URISyntaxException e) {
      return Future.failedFuture(new CallbackUrlRefusedException("not a URL: " + e.getMessage()));
    }
    if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme()) || u.getHost() == null) {
      return Future.failedFuture(
          new CallbackUrlRefusedException("callback URLs must be http or https with a host"));
    }
    return resolve(u.getHost())
        .<Void>mapEmpty()
        .recover(
            err ->
                err instanceof CallbackUrlRefusedException r && r.unresolved()
                    ? Future.succeededFuture()
                    : Future.failedFuture(err))
        .mapEmpty();
  }

  /**
   * The address to connect to for {@code host}, or a failed future with the reason it is refused.
   */
  public Future<InetAddress> resolve(String host) {
    String bare =
        host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    boolean hostAllowed = allowlist.allowsHost(bare);
    Future<InetAddress[]> addresses =
        Allowlist.isLiteral(bare)
            ? Future.succeededFuture(new InetAddress[] {literal(bare)})
            // Name resolution blocks; it runs on a worker thread, never on an event loop.
            : vertx.executeBlocking(() -> InetAddress.getAllByName(bare), false);
    return addresses
        .recover(
            err ->
                Future.failedFuture(
                    new CallbackUrlRefusedException(
                        "cannot resolve " + bare + ": " + err.getMessage(), true)))
        .compose(
            all -> {
              for (InetAddress a : all) {
                String why = forbidden(a);
                if (why != null && !hostAllowed && !allowlist.allowsAddress(a)) {
                  return Future.failedFuture(
                      new CallbackUrlRefusedException(
                          bare
                              + " resolves to "
                              + a.getHostAddress()
                              + ", a "
                              + why
                              + " address; callbacks may not reach it unless the operator allow-list names it"));
                }
              }
              return Future.succeededFuture(all[0]);
            });
  }

  private static InetAddress literal(String s) {
    try {
      return InetAddress.getByAddress(s, Allowlist.literal(s));
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  /** Why callbacks may not reach {@code a} by default, or null if it is a public address. */
  static String forbidden(InetAddress a) {
    if (a.isAnyLocalAddress()) {
      return "unspecified";
    }
    if (a.isLoopbackAddress()) {
      return "loopback";
    }
    if (a.isLinkLocalAddress()) {
      return "link-local";
    }
    if (a.isSiteLocalAddress()) {
      return "private";
    }
    if (a.isMulticastAddress()) {
      return "multicast";
    }
    byte[] b = a.getAddress();
    if (a instanceof Inet4Address) {
      int first = b[0] & 0xff;
      int second = b[1] & 0xff;
      if (first == 0) {
        return "unspecified";
      }
      if (first == 100 && second >= 64 && second < 128) {
        return "carrier-grade NAT";
      }
      if (first == 255) {
        return "broadcast";
      }
    } else if (a instanceof Inet6Address && (b[0] & 0xfe) == 0xfc) {
      return "private (unique local)";
    }
    return null;
  }
}
