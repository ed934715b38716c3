package io.orderpush.gateway.testing;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A TCP proxy between a test's clients and a server, whose connections the test can break the way
 * networks do: {@link Link#cut} drops both sides at once with a reset (no close handshake, bytes in
 * flight lost), {@link Link#stallDownstream} silently drops everything the server sends while the
 * client's bytes still go through, a half-alive connection.
 */
public final class ChaosProxy implements AutoCloseable {

  private final NetServer server;
  private final NetClient client;
  private final List<Link> links = new CopyOnWriteArrayList<>();

  private ChaosProxy(NetServer server, NetClient client) {
    this.server = server;
    this.client = client;
  }

  /** Listens on a free port of 127.0.0.1, forwarding each connection to {@code host:port}. */
  public static ChaosProxy start(Vertx vertx, String host, int port) {
    // SO_LINGER 0: closing a socket sends a reset, not a FIN, and discards what was unsent.
    NetServer server = vertx.createNetServer(new NetServerOptions().setSoLinger(0));
    NetClient client =
        vertx.createNetClient(new NetClientOptions().setSoLinger(0).setConnectTimeout(5000));
    ChaosProxy proxy = new ChaosProxy(server, client);
    server.connectHandler(
        down -> {
          down.pause();
          client
              .connect(port, host)
              .onSuccess(
                  up -> {
                    Link link = new Link(down, up);
                    proxy.links.add(link);
                    link.wire();
                    down.resume();
                  })
              .onFailure(err -> down.close());
        });
    join(server.listen(0, "127.0.0.1"));
    return proxy;
  }

  public int port() {
    return server.actualPort();
  }

  /** Every connection accepted so far, in order. */
  public List<Link> links() {
    return List.copyOf(links);
  }

  /** The connection of the client whose local port is {@code clientPort}. */
  public Optional<Link> link(int clientPort) {
    return links.stream().filter(l -> l.clientPort() == clientPort).findFirst();
  }

  @Override
  public void close() {
    links.forEach(Link::cut);
    join(server.close());
    join(client.close());
  }

  private static <T> T join(Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }

  /** One proxied connection: the client's socket ({@code down}) and the server's ({@code up}). */
  public static final class Link {

    private final NetSocket down;
    private final NetSocket up;
    private final int clientPort;
    private volatile boolean stalled;
    private volatile boolean open = true;

    private Link(NetSocket down, NetSocket up) {
      this.down = down;
      this.up = up;
      this.clientPort = down.remoteAddress().port();
    }

    private void wire() {
      forward(down, up, false);
      forward(up, down, true);
    }

    /** Copies {@code from} to {@code to} with back-pressure; a close of either closes both. */
    private void forward(NetSocket from, NetSocket to, boolean downstream) {
      from.handler(
          buffer -> {
            if (downstream && stalled) {
              return;
            }
            write(to, buffer);
            if (to.writeQueueFull()) {
              from.pause();
              to.drainHandler(v -> from.resume());
            }
          });
      from.exceptionHandler(err -> cut());
      from.closeHandler(v -> cut());
    }

    private void write(NetSocket to, Buffer buffer) {
      to.write(buffer).onFailure(err -> cut());
    }

    public int clientPort() {
      return clientPort;
    }

    public boolean isOpen() {
      return open;
    }

    /** Both sides reset at once: no close handshake, whatever was in flight is lost. */
    public void cut() {
      if (open) {
        open = false;
        down.close();
        up.close();
      }
    }

    /**
     * From now on, what the server sends is dropped while the client's bytes (acks) still reach it:
     * to the server the connection stays up until it gives up on it.
     */
    public void stallDownstream() {
      stalled = true;
      // Reads paused by back-pressure would never resume once nothing is written any more.
      up.resume();
    }
  }
}
