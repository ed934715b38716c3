package io.orderpush.delivery.callback;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.InetAddress;

/**
 * Decides which addresses callbacks may reach: none of the special-purpose ranges of {@link
 * SpecialAddresses} (loopback, private, link-local, NAT64 of those, ...), unless the operator's
 * allow-list names the host or the address, and no host spelled in a form resolvers disagree about
 * ({@link HostForms}). Delivery connects to exactly the address checked here, so a DNS answer that
 * changes between check and connect (rebinding) cannot slip through.
 */
public final class SsrfGuard {

  private final Vertx vertx;
  private final Allowlist allowlist;

  public SsrfGuard(Vertx vertx, Allowlist allowlist) {
    this.vertx = vertx;
    this.allowlist = allowlist;
  }

  /**
   * Checks a URL at registration: syntax, host form and every address the host resolves to. A host
   * that does not resolve is refused. Never throws: every problem is a failed future with a {@link
   * CallbackUrlRefusedException}.
   */
  public Future<Void> check(String url) {
    CallbackUrl parsed;
    try {
      parsed = CallbackUrl.parse(url);
    } catch (CallbackUrlRefusedException e) {
      return Future.failedFuture(e);
    }
    return resolve(parsed.host()).mapEmpty();
  }

  /**
   * The address to connect to for {@code host}, or a failed future with a {@link
   * CallbackUrlRefusedException} saying why it is refused. Never throws.
   */
  public Future<InetAddress> resolve(String host) {
    String bare = HostForms.bare(host);
    Future<InetAddress[]> addresses;
    try {
      HostForms.refuseAmbiguousNumber(bare);
      HostForms.refuseZoneId(bare);
      addresses =
          Allowlist.isLiteral(bare)
              ? Future.succeededFuture(new InetAddress[] {literal(bare)})
              // Name resolution blocks; it runs on a worker thread, never on an event loop.
              : lookup(bare);
    } catch (CallbackUrlRefusedException e) {
      return Future.failedFuture(e);
    } catch (Exception e) {
      return Future.failedFuture(
          CallbackUrlRefusedException.because(
              "callback host " + bare + " is not a valid IP address: " + e.getMessage(), e));
    }
    return addresses
        .recover(
            err ->
                Future.failedFuture(
                    CallbackUrlRefusedException.because(
                        "callback host " + bare + " does not resolve: " + err.getMessage(), err)))
        .compose(all -> firstAllowed(bare, all));
  }

  /**
   * Lookups running, by host: a caller asking for a host already being looked up shares that
   * lookup. A resolver that hangs then holds one worker thread per host, however often the
   * callbacks to it are retried (each retry was answered at its deadline and started another).
   */
  private final java.util.concurrent.ConcurrentHashMap<String, Future<InetAddress[]>> lookups =
      new java.util.concurrent.ConcurrentHashMap<>();

  private Future<InetAddress[]> lookup(String host) {
    Future<InetAddress[]> shared = lookups.get(host);
    if (shared == null) {
      io.vertx.core.Promise<InetAddress[]> mine = io.vertx.core.Promise.promise();
      shared = lookups.putIfAbsent(host, mine.future());
      if (shared == null) {
        shared = mine.future();
        vertx
            .executeBlocking(() -> InetAddress.getAllByName(host), false)
            .onComplete(
                ar -> {
                  lookups.remove(host, mine.future());
                  mine.handle(ar);
                });
      }
    }
    // each caller is answered on its own context, not on the one that started the lookup
    io.vertx.core.Context caller = vertx.getOrCreateContext();
    io.vertx.core.Promise<InetAddress[]> answer = io.vertx.core.Promise.promise();
    shared.onComplete(ar -> caller.runOnContext(v -> answer.handle(ar)));
    return answer.future();
  }

  private Future<InetAddress> firstAllowed(String host, InetAddress[] all) {
    if (all.length == 0) {
      return Future.failedFuture(
          new CallbackUrlRefusedException("callback host " + host + " does not resolve"));
    }
    boolean hostAllowed = allowlist.allowsHost(host);
    for (InetAddress a : all) {
      String why = forbidden(a);
      if (why != null && !hostAllowed && !allowlist.allowsAddress(a)) {
        return Future.failedFuture(
            new CallbackUrlRefusedException(
                host
                    + " resolves to "
                    + a.getHostAddress()
                    + ", a "
                    + why
                    + " address; callbacks may not reach it unless the operator allow-list names"
                    + " it"));
      }
    }
    return Future.succeededFuture(all[0]);
  }

  private static InetAddress literal(String s) throws java.net.UnknownHostException {
    return InetAddress.getByAddress(s, Allowlist.literal(s));
  }

  /** Why callbacks may not reach {@code a} by default, or null if it is a public address. */
  static String forbidden(InetAddress a) {
    return SpecialAddresses.forbidden(a);
  }
}
