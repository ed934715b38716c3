package io.orderpush.drill;

import io.orderpush.synthetic.OrderStream;
import io.orderpush.synthetic.Population;
import io.orderpush.synthetic.Profile;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The drill's settings, from environment variables (so the Gatling JVM forked by the Maven plugin
 * sees the same ones as the drill tool). Sizes come from {@code DRILL_SCALE}: {@code tiny} (the
 * seconds-long drill of the test command), {@code small}, {@code full} (the whole Double 11
 * population), or a number (the share of the full population's orders, with full's timing).
 */
public record DrillConfig(
    String scaleName,
    double scale,
    int tailMerchants,
    long seed,
    int batch,
    double peakRate,
    double multiplier,
    double normalS,
    double rampUpS,
    double rampDownS,
    double tailS,
    int retries,
    int wsConnections,
    int drainTimeoutS,
    int verifyEvery,
    String runId,
    List<URI> gatewayUrls,
    double killNodeAtS,
    int killNode,
    int ackSettleMs) {

  public static final String USAGE =
      """
      drill settings (environment):
        DRILL_SCALE             tiny | small | full | a number (share of the full population)   default full
        DRILL_PEAK_RATE         events/s offered at the peak       default tiny 3000, small 15000, full 25000
        DRILL_MULTIPLIER        peak / normal rate                  default 100
        DRILL_BATCH             events per ingest request (whole orders: up to 3 more)   default 100 (tiny 20)
        DRILL_TAIL_MERCHANTS    merchants in the long tail          default 1000
        DRILL_PHASES            seconds of normal,ramp-up,ramp-down,tail   default tiny 2,3,2,2; small 10,20,10,10; full 30,60,30,30
        DRILL_RETRIES           attempts per ingest request (retried after 0.5 s, doubling up to 16 s, jittered)   default 30
        DRILL_WS_CONNECTIONS    connections of the WebSocket consumer group   default 4
        DRILL_DRAIN_TIMEOUT_S   how long to wait for the consumers after the load   default 300
        DRILL_VERIFY_EVERY      check the webhook signature of every n-th callback (0: never)   default 10
        DRILL_SEED              population and generator seed       default 11
        DRILL_RUN_ID            prefix of event ids                 default d<epoch seconds>
        DRILL_KILL_NODE_AT      seconds after the load starts to kill a node with SIGKILL (several nodes only)   default none
        DRILL_KILL_NODE         which node (2..nodes: not the first)   default the last
        DRILL_ACK_SETTLE_MS     an ack this old counts as stored by the gateway (a redelivery at or below fails)   default 5000
        GATEWAY_URL             the gateway                         default http://127.0.0.1:8080
        GATEWAY_URLS            the gateway nodes, comma-separated (overrides GATEWAY_URL)   default GATEWAY_URL""";

  public static DrillConfig fromEnv() {
    return from(System.getenv());
  }

  static DrillConfig from(Map<String, String> env) {
    String scaleName = env.getOrDefault("DRILL_SCALE", "full").trim().toLowerCase(Locale.ROOT);
    double scale;
    double peak;
    int batch = 100;
    String phases;
    switch (scaleName) {
      case "tiny" -> {
        scale = 0.001;
        peak = 3000;
        batch = 20;
        phases = "2,3,2,2";
      }
      case "small" -> {
        scale = 0.05;
        peak = 15000;
        phases = "10,20,10,10";
      }
      case "full" -> {
        scale = 1;
        peak = 25000;
        phases = "30,60,30,30";
      }
      default -> {
        scale = number(scaleName, "DRILL_SCALE");
        peak = 25000;
        phases = "30,60,30,30";
      }
    }
    String[] p = env.getOrDefault("DRILL_PHASES", phases).split(",");
    if (p.length != 4) {
      throw new IllegalArgumentException(
          "DRILL_PHASES needs 4 numbers (normal,ramp-up,ramp-down,tail seconds)");
    }
    DrillConfig c =
        new DrillConfig(
            scaleName,
            scale,
            integer(env, "DRILL_TAIL_MERCHANTS", 1000, 0, 100_000),
            Long.parseLong(env.getOrDefault("DRILL_SEED", "11")),
            integer(env, "DRILL_BATCH", batch, 1, 997),
            env.containsKey("DRILL_PEAK_RATE")
                ? number(env.get("DRILL_PEAK_RATE"), "DRILL_PEAK_RATE")
                : peak,
            env.containsKey("DRILL_MULTIPLIER")
                ? number(env.get("DRILL_MULTIPLIER"), "DRILL_MULTIPLIER")
                : 100,
            seconds(p[0]),
            seconds(p[1]),
            seconds(p[2]),
            seconds(p[3]),
            integer(env, "DRILL_RETRIES", 30, 1, 1000),
            integer(env, "DRILL_WS_CONNECTIONS", 4, 1, 64),
            integer(env, "DRILL_DRAIN_TIMEOUT_S", 300, 1, 86_400),
            integer(env, "DRILL_VERIFY_EVERY", 10, 0, 1_000_000),
            env.getOrDefault("DRILL_RUN_ID", "d" + System.currentTimeMillis() / 1000),
            urls(env),
            env.containsKey("DRILL_KILL_NODE_AT") && !env.get("DRILL_KILL_NODE_AT").isBlank()
                ? killAt(env.get("DRILL_KILL_NODE_AT"))
                : -1,
            0,
            integer(env, "DRILL_ACK_SETTLE_MS", 5000, 0, 600_000));
    int nodes = c.gatewayUrls.size();
    if (c.killNodeAtS >= 0) {
      if (nodes < 2) {
        throw new IllegalArgumentException(
            "DRILL_KILL_NODE_AT needs several gateway nodes (DRILL_NODES=2 or more)");
      }
      c = c.withKillNode(integer(env, "DRILL_KILL_NODE", nodes, 2, nodes));
    }
    if (!c.runId.matches("[A-Za-z0-9_.]{1,40}")) {
      throw new IllegalArgumentException("DRILL_RUN_ID must be 1-40 of A-Z a-z 0-9 _ .");
    }
    if (c.multiplier < 1) {
      throw new IllegalArgumentException("DRILL_MULTIPLIER must be at least 1");
    }
    return c;
  }

  /** The first gateway node (the operator's, and ingest's when there is one). */
  public URI gatewayUrl() {
    return gatewayUrls.get(0);
  }

  /** Whether a node is killed during the load. */
  public boolean killsANode() {
    return killNodeAtS >= 0;
  }

  private DrillConfig withKillNode(int node) {
    return new DrillConfig(
        scaleName,
        scale,
        tailMerchants,
        seed,
        batch,
        peakRate,
        multiplier,
        normalS,
        rampUpS,
        rampDownS,
        tailS,
        retries,
        wsConnections,
        drainTimeoutS,
        verifyEvery,
        runId,
        gatewayUrls,
        killNodeAtS,
        node,
        ackSettleMs);
  }

  private static List<URI> urls(Map<String, String> env) {
    String list = env.get("GATEWAY_URLS");
    if (list == null || list.isBlank()) {
      list = env.getOrDefault("GATEWAY_URL", "http://127.0.0.1:8080");
    }
    List<URI> urls = new ArrayList<>();
    for (String u : list.split(",")) {
      if (!u.isBlank()) {
        URI uri = URI.create(u.trim());
        if (uri.getHost() == null || uri.getPort() < 0) {
          throw new IllegalArgumentException(
              "gateway URLs need a host and a port (http://127.0.0.1:8080), not '" + u + "'");
        }
        urls.add(uri);
      }
    }
    if (urls.isEmpty() || urls.size() > 16) {
      throw new IllegalArgumentException("GATEWAY_URLS must list 1 to 16 gateway URLs");
    }
    return List.copyOf(urls);
  }

  private static double killAt(String s) {
    try {
      double d = Double.parseDouble(s.trim());
      if (!(d >= 0) || d > 86_400) {
        throw new NumberFormatException();
      }
      return d;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "DRILL_KILL_NODE_AT must be seconds 0-86400 after the load starts, not '" + s + "'");
    }
  }

  public Population population() {
    return Population.doubleEleven(scale, tailMerchants, seed);
  }

  /**
   * The load profile for the population, sized in requests (a dry run of the order stream, about a
   * second at full size).
   */
  public Profile profile(Population population) {
    long requests = OrderStream.requestsFor(population, batch, seed);
    double normalRequestsPerS =
        peakRate / multiplier / (population.totalEvents() / (double) requests);
    // Spare arrivals: half the tail's (they are the last ones), at least 3 (rounding per injection
    // step).
    double spare = Math.max(3, normalRequestsPerS * tailS / 2);
    return Profile.fit(
        population.totalEvents(),
        requests,
        spare,
        peakRate,
        multiplier,
        normalS,
        rampUpS,
        rampDownS,
        tailS);
  }

  public OrderStream stream(Population population) {
    return new OrderStream(population, batch, runId, seed);
  }

  private static double number(String s, String name) {
    try {
      double d = Double.parseDouble(s.trim());
      if (!(d > 0) || Double.isInfinite(d)) {
        throw new NumberFormatException();
      }
      return d;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          name
              + " must be a positive number (or tiny|small|full for DRILL_SCALE), not '"
              + s
              + "'");
    }
  }

  private static double seconds(String s) {
    double d = Double.parseDouble(s.trim());
    if (!(d >= 0) || d > 86_400) {
      throw new IllegalArgumentException("phase seconds must be 0-86400, not " + s);
    }
    return d;
  }

  private static int integer(Map<String, String> env, String name, int dflt, int min, int max) {
    String s = env.get(name);
    if (s == null || s.isBlank()) {
      return dflt;
    }
    try {
      int v = Integer.parseInt(s.trim());
      if (v < min || v > max) {
        throw new NumberFormatException();
      }
      return v;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          name + " must be an integer " + min + "-" + max + ", not '" + s + "'");
    }
  }
}
