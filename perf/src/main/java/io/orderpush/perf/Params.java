package io.orderpush.perf;

import java.net.URI;
import java.util.HashMap;
import java.util.Map;

/**
 * IngestBench parameters. Each comes from an argument {@code --name=value}, else the system
 * property {@code bench.name}, else the default; the token may also come from the environment
 * variable {@code GATEWAY_INGEST_TOKEN} (so it stays off the command line).
 */
record Params(
    URI url,
    String token,
    int batch,
    int merchants,
    int concurrency,
    int durationSeconds,
    int warmupSeconds,
    String merchantPrefix,
    long seed) {

  static final String USAGE =
      """
      usage: IngestBench [--name=value ...]   (or -Dbench.name=value)
        url           ingest endpoint            default http://127.0.0.1:8080/v1/events
        token         ingest bearer token        default $GATEWAY_INGEST_TOKEN
        batch         events per request         default 100
        merchants     distinct merchant ids      default 1000
        concurrency   requests in flight         default 16
        duration      measured seconds           default 30
        warmup        unmeasured seconds before  default 10
        prefix        merchant id prefix         default bench-m-
        seed          random seed                default 42""";

  static Params parse(String[] args) {
    Map<String, String> given = new HashMap<>();
    for (String a : args) {
      if (a.equals("-h") || a.equals("--help")) {
        throw new IllegalArgumentException(USAGE);
      }
      int eq = a.indexOf('=');
      if (!a.startsWith("--") || eq < 0) {
        throw new IllegalArgumentException("bad argument '" + a + "'\n" + USAGE);
      }
      given.put(a.substring(2, eq), a.substring(eq + 1));
    }
    Map<String, String> left = new HashMap<>(given);
    String token = get(left, "token", System.getenv().getOrDefault("GATEWAY_INGEST_TOKEN", ""));
    Params p =
        new Params(
            URI.create(get(left, "url", "http://127.0.0.1:8080/v1/events")),
            token,
            positive(left, "batch", 100),
            positive(left, "merchants", 1000),
            positive(left, "concurrency", 16),
            positive(left, "duration", 30),
            Integer.parseInt(get(left, "warmup", "10")),
            get(left, "prefix", "bench-m-"),
            Long.parseLong(get(left, "seed", "42")));
    if (!left.isEmpty()) {
      throw new IllegalArgumentException("unknown argument(s) " + left.keySet() + "\n" + USAGE);
    }
    if (token.isEmpty()) {
      throw new IllegalArgumentException(
          "no ingest token: pass --token=... or set GATEWAY_INGEST_TOKEN");
    }
    if (p.merchants > 9999) {
      throw new IllegalArgumentException("merchants must be at most 9999");
    }
    return p;
  }

  int port() {
    return url.getPort() > 0 ? url.getPort() : ("https".equals(url.getScheme()) ? 443 : 80);
  }

  private static String get(Map<String, String> args, String name, String dflt) {
    String v = args.remove(name);
    return v != null ? v : System.getProperty("bench." + name, dflt);
  }

  private static int positive(Map<String, String> args, String name, int dflt) {
    int n = Integer.parseInt(get(args, name, Integer.toString(dflt)));
    if (n <= 0) {
      throw new IllegalArgumentException(name + " must be positive");
    }
    return n;
  }
}
