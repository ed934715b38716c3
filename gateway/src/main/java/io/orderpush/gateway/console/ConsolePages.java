package io.orderpush.gateway.console;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;

/**
 * The operator console at {@code /console/}: static pages from the jar's {@code console/}
 * resources. The pages need no token; every API call they make carries the admin token the operator
 * types in, so serving them gives nothing away. The headers keep the pages from running anything
 * but their own files and from being framed.
 */
public final class ConsolePages {

  public static final String PATH = "/console/";

  /** Only the console's own files; no inline script or style, no framing, no foreign requests. */
  static final String CSP =
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
          + "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
          + "frame-ancestors 'none'";

  private ConsolePages() {}

  public static void mount(Router r) {
    // Relative links in the pages need the trailing slash (a route for /console matches /console/
    // as well, hence the check).
    r.get("/console")
        .handler(
            ctx -> {
              if (ctx.request().path().equals("/console")) {
                ctx.redirect(PATH);
              } else {
                ctx.next();
              }
            });
    r.get(PATH + "*")
        .handler(ConsolePages::headers)
        .handler(
            StaticHandler.create("console")
                .setCachingEnabled(false)
                .setDirectoryListing(false)
                .setIncludeHidden(false));
  }

  private static void headers(RoutingContext ctx) {
    ctx.response()
        .putHeader("Content-Security-Policy", CSP)
        .putHeader("X-Content-Type-Options", "nosniff")
        .putHeader("X-Frame-Options", "DENY")
        .putHeader("Referrer-Policy", "no-referrer")
        // A new jar's pages are picked up at the next load, never a stale script.
        .putHeader("Cache-Control", "no-cache");
    ctx.next();
  }
}
