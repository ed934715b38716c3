package io.orderpush.perf;

import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * StreamBench arguments: {@code <scenario> --name=value ...}; tokens come from the environment
 * ({@code GATEWAY_ADMIN_TOKEN}, {@code GATEWAY_INGEST_TOKEN}) so they stay off the command line.
 */
final class StreamArgs {

  static final String USAGE =
      """
      usage: StreamBench <drain|live|sustained|channels> [--name=value ...]
        common:    url (http://127.0.0.1:8080), urls (several nodes, comma-separated: ingest requests
                   and consumer connections round robin over them, operator calls to the first), connections (drain 1, else 4), prefix (merchant id prefix),
                   scopes (the grant's, comma-separated: pii gets personal data unmasked; default none)
        drain:     merchant (required: a merchant with a stored backlog), events (1000000), timeout (600 s)
        live:      merchants (1000), rate (5000 events/s), batch (50), warmup (15 s), duration (60 s)
        sustained: merchants (1000), rates (10000,15000,20000,25000,30000), step (30 s), batch (100),
                   warmup (15 s, at the first rate / 2), stop-after (0: run every step; n: stop after
                   n unbounded steps in a row)
        channels:  merchants (50000, granted to a websocket and a callback app), connections (6), rate
                   (1000), batch (50), idle (60 s), duration (60 s), settle (20 s), grants (sql: one INSERT
                   by psql on GATEWAY_PG_URL; api: the grant API, grant-parallel 32 at a time)
        live, sustained: max-in-flight (256 ingest requests), drain-timeout (120 s), ingest-nodes (all
                   of --urls; n: ingest through the first n only, consumers still on all)
      environment: GATEWAY_ADMIN_TOKEN, and GATEWAY_INGEST_TOKEN for live and sustained""";

  final String scenario;
  private final String usage;
  private final Map<String, String> given = new HashMap<>();

  StreamArgs(String[] args) {
    this(args, USAGE, List.of("drain", "live", "sustained", "channels"));
  }

  /** For another tool with the same argument style (JetStreamBench). */
  StreamArgs(String[] args, String usage, List<String> scenarios) {
    this.usage = usage;
    if (args.length == 0 || args[0].startsWith("-")) {
      throw new IllegalArgumentException(usage);
    }
    scenario = args[0];
    if (!scenarios.contains(scenario)) {
      throw new IllegalArgumentException("unknown scenario '" + scenario + "'\n" + usage);
    }
    for (int i = 1; i < args.length; i++) {
      String a = args[i];
      int eq = a.indexOf('=');
      if (!a.startsWith("--") || eq < 0) {
        throw new IllegalArgumentException("bad argument '" + a + "'\n" + usage);
      }
      given.put(a.substring(2, eq), a.substring(eq + 1));
    }
  }

  String str(String name, String dflt) {
    String v = given.remove(name);
    if (v == null && dflt == null) {
      throw new IllegalArgumentException("--" + name + " is required\n" + usage);
    }
    return v != null ? v : dflt;
  }

  int integer(String name, int dflt) {
    int v = Integer.parseInt(str(name, Integer.toString(dflt)));
    if (v <= 0) {
      throw new IllegalArgumentException("--" + name + " must be positive");
    }
    return v;
  }

  List<Integer> integers(String name, String dflt) {
    List<Integer> out = new ArrayList<>();
    for (String s : str(name, dflt).split(",")) {
      out.add(Integer.parseInt(s.trim()));
    }
    return out;
  }

  /** The grant's scopes: {@code --scopes=pii}, or none (personal data arrives masked). */
  List<String> scopes() {
    String v = str("scopes", "");
    return v.isBlank() ? List.of() : List.of(v.split(","));
  }

  URI url() {
    return URI.create(str("url", "http://127.0.0.1:8080"));
  }

  /**
   * The nodes of a cluster: {@code --urls=http://a,http://b,...} (ingest and consumer connections
   * are spread over them, the operator's calls go to the first), else {@code --url} alone.
   */
  List<URI> urls() {
    String list = given.remove("urls");
    URI one = url();
    if (list == null || list.isBlank()) {
      return List.of(one);
    }
    List<URI> out = new ArrayList<>();
    for (String u : list.split(",")) {
      out.add(URI.create(u.trim()));
    }
    return List.copyOf(out);
  }

  static String env(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) {
      throw new IllegalArgumentException("set " + name);
    }
    return v;
  }

  /** Fails on arguments no scenario asked for (typos). */
  void checkAllUsed() {
    if (!given.isEmpty()) {
      throw new IllegalArgumentException(
          "unknown argument(s) " + given.keySet() + " for " + scenario + "\n" + usage);
    }
  }
}
