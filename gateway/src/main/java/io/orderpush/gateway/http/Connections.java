package io.orderpush.gateway.http;

import io.vertx.ext.web.RoutingContext;

/** What Vert.x's API does not offer for a connection. */
public final class Connections {

  private Connections() {}

  /**
   * Closes the request's connection at once, dropping whatever is queued on it: closing it through
   * Vert.x (a reset, a WebSocket close) waits until what is queued is written, which a client that
   * stopped reading never lets happen. Closes the socket from the first handler of its pipeline
   * (Vert.x's internal connection class; where the connection is another, a plain close).
   */
  public static Runnable abort(RoutingContext ctx) {
    io.vertx.core.http.HttpConnection conn = ctx.request().connection();
    if (conn instanceof io.vertx.core.net.impl.ConnectionBase base) {
      io.netty.channel.Channel channel = base.channel();
      return () -> {
        io.netty.channel.ChannelHandlerContext first = channel.pipeline().firstContext();
        if (first != null) {
          first.close();
        } else {
          channel.close();
        }
      };
    }
    if (!warned) {
      warned = true;
      LOG.warn(
          "connections are {}, not Vert.x's own class: a connection cut off closes only once what"
              + " is queued on it is written",
          conn.getClass().getName());
    }
    return conn::close;
  }

  /**
   * Bytes queued on the request's connection beyond what it may hold before it counts as full (0
   * when it is not full, or where the connection is not Vert.x's own class): readable after the
   * response ended, when the response no longer answers {@code writeQueueFull}.
   */
  public static java.util.function.LongSupplier backlog(RoutingContext ctx) {
    if (ctx.request().connection() instanceof io.vertx.core.net.impl.ConnectionBase base) {
      io.netty.channel.Channel channel = base.channel();
      return () -> channel.isActive() ? channel.bytesBeforeWritable() : 0;
    }
    return () -> 0;
  }

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Connections.class);

  private static volatile boolean warned;
}
