package io.orderpush.gateway;

import io.orderpush.gateway.config.ConfigException;
import io.orderpush.gateway.config.GatewayConfig;
import io.orderpush.gateway.demo.Demo;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Starts the gateway. {@code --demo} also runs a simulated marketplace and a sample consumer;
 * {@code reseal} instead re-seals the stored webhook secrets under the current key and exits.
 * SIGTERM and SIGINT stop it gracefully and exit 0.
 */
public final class Main {

  private static final Logger LOG = LoggerFactory.getLogger(Main.class);

  private Main() {}

  public static void main(String[] args) throws InterruptedException {
    boolean demo = Arrays.asList(args).contains("--demo");
    GatewayConfig config;
    try {
      config = GatewayConfig.load(System.getenv());
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    if (Arrays.asList(args).contains("reseal")) {
      System.exit(io.orderpush.gateway.ops.ResealCommand.run(config, System.out));
      return;
    }
    Gateway gateway;
    try {
      gateway = Gateway.start(config).toCompletionStage().toCompletableFuture().join();
    } catch (RuntimeException e) {
      LOG.error("gateway failed to start", e);
      System.exit(1);
      return;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    AtomicBoolean stopping = new AtomicBoolean();
    Runnable stop =
        () -> {
          if (stopping.compareAndSet(false, true)) {
            gateway.stop().onComplete(ar -> stopped.countDown());
          }
        };
    Signal.handle(new Signal("TERM"), s -> stop.run());
    Signal.handle(new Signal("INT"), s -> stop.run());
    if (demo) {
      Demo.start(gateway);
    }
    stopped.await();
    System.exit(0);
  }
}
