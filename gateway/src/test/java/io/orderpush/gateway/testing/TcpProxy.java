package io.orderpush.gateway.testing;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A TCP proxy on loopback for network-failure tests: it forwards to a target until {@link
 * #blackhole()}, then forwards nothing, in either direction, and closes nothing, the way a host
 * that vanished or a network that drops packets looks to a client. Its own kernel still accepts and
 * acknowledges, so only the client's application-level timeouts can notice.
 *
 * <p>{@link #forward()} lets new connections through again; connections that went black stay black
 * (the bytes dropped meanwhile are gone, as after a real outage their ends must give up on them).
 */
public final class TcpProxy implements AutoCloseable {

  private final Vertx vertx = Vertx.vertx();
  private final String targetHost;
  private final int targetPort;
  private final NetClient client;
  private final Set<Link> links = ConcurrentHashMap.newKeySet();
  private volatile boolean black;
  private volatile boolean deaf;
  private NetServer server;

  private TcpProxy(String targetHost, int targetPort) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.client = vertx.createNetClient();
  }

  /** Starts a proxy on a free loopback port that forwards to {@code host:port}. */
  public static TcpProxy start(String host, int port) {
    TcpProxy proxy = new TcpProxy(host, port);
    proxy.server =
        join(
            proxy
                .vertx
                .createNetServer(new NetServerOptions().setHost("127.0.0.1").setPort(0))
                .connectHandler(proxy::accept)
                .listen());
    return proxy;
  }

  public int port() {
    return server.actualPort();
  }

  /** Stops forwarding on every connection, and holds new ones silent, without closing any. */
  public void blackhole() {
    black = true;
    links.forEach(l -> l.black = true);
  }

  /**
   * Forwards what clients send but none of the answers, on every connection and new ones: the
   * target acts on each request while the client hears nothing back, as when answers are lost
   * before a reset. {@link #forward()} ends it for new connections.
   */
  public void deafen() {
    deaf = true;
    links.forEach(l -> l.deaf = true);
  }

  /** Closes every open connection at both ends (as a reset network would) and goes on accepting. */
  public void cut() {
    links.forEach(Link::close);
  }

  /** Lets new connections through again; those that went black stay black. */
  public void forward() {
    black = false;
    deaf = false;
  }

  /** Closes every connection, black or not, and the proxy. */
  @Override
  public void close() {
    links.forEach(Link::close);
    join(vertx.close());
  }

  private void accept(NetSocket in) {
    Link link = new Link(in);
    link.deaf = deaf;
    links.add(link);
    in.closeHandler(v -> link.closedBy(in));
    if (black) {
      link.black = true;
      in.handler(dropped -> {});
      return;
    }
    in.pause();
    client
        .connect(targetPort, targetHost)
        .onSuccess(
            out -> {
              link.out = out;
              out.closeHandler(v -> link.closedBy(out));
              pipe(link, in, out, false);
              pipe(link, out, in, true);
              in.resume();
            })
        .onFailure(err -> in.close());
  }

  /** Copies {@code from} to {@code to} while the link forwards, with backpressure. */
  private static void pipe(Link link, NetSocket from, NetSocket to, boolean answers) {
    to.drainHandler(v -> from.resume());
    from.handler(
        (Buffer b) -> {
          if (link.black || answers && link.deaf) {
            from.resume();
            return;
          }
          to.write(b);
          if (to.writeQueueFull()) {
            from.pause();
          }
        });
  }

  private final class Link {
    final NetSocket in;
    volatile NetSocket out;
    volatile boolean black;
    volatile boolean deaf;

    Link(NetSocket in) {
      this.in = in;
    }

    /** A close crosses the proxy only while it forwards: a black link tells neither end. */
    void closedBy(NetSocket side) {
      if (black) {
        return;
      }
      links.remove(this);
      NetSocket other = side == in ? out : in;
      if (other != null) {
        other.close();
      }
    }

    void close() {
      in.close();
      if (out != null) {
        out.close();
      }
    }
  }

  private static <T> T join(Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }
}
