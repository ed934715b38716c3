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

  /**
   * Set before logging starts (logback.xml reads it), so the log names the node as it names itself.
   */
  static final String NODE_PROPERTY = "gateway.node";

  private Main() {}

  public static void main(String[] args) throws InterruptedException {
    boolean demo = Arrays.asList(args).contains("--demo");
    // no GATEWAY_NODE_ID: the generated name, chosen here so that the log lines and the metrics'
    // node label agree (logging starts with the first logger)
    java.util.Map<String, String> env = new java.util.HashMap<>(System.getenv());
    String nodeId = env.get("GATEWAY_NODE_ID") == null ? "" : env.get("GATEWAY_NODE_ID").trim();
    if (nodeId.isEmpty()) {
      nodeId = GatewayConfig.generatedNodeId();
      env.put("GATEWAY_NODE_ID", nodeId);
    }
    System.setProperty(NODE_PROPERTY, nodeId);
    Logger log = LoggerFactory.getLogger(Main.class);
    GatewayConfig config;
    try {
      config = GatewayConfig.load(env);
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
      log.error("gateway failed to start", e);
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
