package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Events;
import io.orderpush.gateway.GatewayProcess;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Channel ownership across gateway nodes: node A in this JVM, the others separate processes, all on
 * one PostgreSQL and Redis. Each channel is delivered by one node at a time: a callback receiver
 * never sees two requests of one merchant open at once, a WebSocket consumer group spanning nodes
 * has one connection per merchant; a node killed with SIGKILL has its channels taken over after its
 * lease, with nothing lost and nothing at or below an acked cursor sent again.
 */
class OwnershipClusterIT {

  static final Duration LEASE = Duration.ofSeconds(3);
  static final Duration WAIT = Duration.ofSeconds(60);

  static final Map<String, String> ENV =
      Map.of(
          "GATEWAY_NODE_LEASE_MS", Long.toString(LEASE.toMillis()),
          "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
          "GATEWAY_CALLBACK_BATCH_SIZE", "5",
          "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "100",
          "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "500",
          "GATEWAY_DELIVERY_RECONCILE_INTERVAL_MS", "200",
          "GATEWAY_STREAM_MAX_BATCH_EVENTS", "5");

  final HttpClient http = HttpClient.newHttpClient();
  final List<GatewayProcess> processes = new ArrayList<>();
  TestGateway a;
  StreamFixture fx;

  /** What the nodes get on top of {@link #ENV} to reach Redis: nothing, the single test Redis. */
  Map<String, String> redisEnv() {
    return Map.of();
  }

  io.orderpush.persistence.redis.RedisSettings redis() {
    return TestServices.redis();
  }

  @BeforeEach
  void startA() {
    a = TestGateway.start(env("a"));
    fx = new StreamFixture(a, redis());
  }

  @AfterEach
  void stopAll() throws Exception {
    try {
      for (GatewayProcess p : processes) {
        p.kill();
      }
      forgetStartedNodes();
    } finally {
      fx.close();
      a.close();
    }
  }

  /** The node ids of the processes this test started (killed, or gone, once it ends). */
  final Set<String> started = ConcurrentHashMap.newKeySet();

  /**
   * Removes the leases of the nodes this test started, all dead now, as their expiry would: a
   * killed node stays in the live set until its lease expires (30 s in two tests below), and
   * meanwhile it owned by rendezvous a share of the next test's callback channels, which nobody
   * delivered until then (9 of the 18 s of the callback test that ran after one).
   */
  void forgetStartedNodes() {
    var ctx = fx.vertx.getOrCreateContext();
    List<String> members = StreamFixture.join(fx.redis.call(ctx, c -> c.zrange(NODES, 0, -1)));
    String[] dead =
        members.stream()
            .filter(t -> started.contains(io.orderpush.delivery.cluster.NodeLease.nodeIdOf(t)))
            .toArray(String[]::new);
    if (dead.length > 0) {
      StreamFixture.join(fx.redis.call(ctx, c -> c.zrem(NODES, dead)));
    }
  }

  /** Each node's id by name ("a", "b", ...), as the nodes are (or will be) told it. */
  final Map<String, String> ids = new HashMap<>();

  Map<String, String> env(String node) {
    Map<String, String> env = new HashMap<>(ENV);
    env.putAll(redisEnv());
    env.put("GATEWAY_NODE_ID", idOf(node));
    return env;
  }

  /** The node's id, chosen now if the node has not started yet. */
  String idOf(String node) {
    return ids.computeIfAbsent(node, n -> n + "-" + UUID.randomUUID().toString().substring(0, 6));
  }

  /**
   * {@code n} merchants of which, for the app's callback channels, every node of every given set of
   * live nodes owns at least {@code least}: the nodes share an app's callback channels by
   * rendezvous hashing ({@link io.orderpush.delivery.cluster.Rendezvous#owner}), so a node can own
   * none of a few merchants by chance (all 8 of a run's merchants hashed to A, and B had nothing to
   * deliver), which a test that waits for every node to deliver must not leave to chance.
   */
  List<String> merchantsShared(
      String prefix, int n, UUID app, int least, List<List<String>> views) {
    for (int attempt = 0; attempt < 10_000; attempt++) {
      List<String> merchants = fx.merchants(prefix, n);
      boolean shared = true;
      for (List<String> view : views) {
        List<String> members = view.stream().map(this::idOf).toList();
        Map<String, Integer> owned = new HashMap<>();
        for (String m : merchants) {
          owned.merge(
              io.orderpush.delivery.cluster.Rendezvous.owner(app, m, members), 1, Integer::sum);
        }
        shared &= members.stream().allMatch(id -> owned.getOrDefault(id, 0) >= least);
      }
      if (shared) {
        return merchants;
      }
    }
    throw new AssertionError("no " + n + " merchants shared over " + views);
  }

  GatewayProcess node(String name) throws Exception {
    return node(name, Map.of());
  }

  GatewayProcess node(String name, Map<String, String> extra) throws Exception {
    Map<String, String> env = env(name);
    env.putAll(extra);
    started.add(env.get("GATEWAY_NODE_ID"));
    GatewayProcess p =
        GatewayProcess.start(TestGateway.freePort(), "ownership-" + name + ".log", env);
    processes.add(p);
    return p;
  }

  /** A callback app to {@code url}, granted {@code merchants} from the earliest event. */
  String callbackApp(String url, List<String> merchants) {
    String id = callbackApp(url);
    grant(id, merchants);
    return id;
  }

  /** A callback app to {@code url} with no grant yet. */
  String callbackApp(String url) {
    HttpResponse<String> r =
        a.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject()
                .put("name", "ownership")
                .put("delivery", new JsonObject().put("mode", "callback").put("url", url))
                .encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    String id = new JsonObject(r.body()).getString("appId");
    fx.apps.add(UUID.fromString(id));
    return id;
  }

  void grant(String id, List<String> merchants) {
    for (String m : merchants) {
      HttpResponse<String> g =
          a.send(
              "PUT",
              "/v1/merchants/" + m + "/grants/" + id,
              TestGateway.ADMIN_TOKEN,
              "{\"start\":\"earliest\"}");
      assertThat(g.statusCode()).as(g.body()).isEqualTo(200);
    }
  }

  /** Ingests {@code count} events over the merchants, batch by batch, through the given ports. */
  void ingest(List<String> merchants, int count, int batch, int... ports) {
    int i = 0;
    for (int done = 0; done < count; i++) {
      List<JsonObject> events = new ArrayList<>();
      for (int j = 0; j < batch && done < count; j++, done++) {
        events.add(
            Events.event(
                merchants.get(fx.random.nextInt(merchants.size())), UUID.randomUUID().toString()));
      }
      int port = ports[i % ports.length];
      HttpResponse<String> r =
          TestGateway.send(
              port, http, "POST", "/v1/events", TestGateway.INGEST_TOKEN, Events.batch(events));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
  }

  double metric(int port, String series) {
    String text = TestGateway.send(port, http, "GET", "/metrics", null, null).body();
    for (String line : text.split("\n")) {
      if (!line.startsWith("#")
          && (line.startsWith(series + " ") || line.startsWith(series + "{"))) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return 0;
  }

  /** The node's view of the app's callback endpoint, for a failure message. */
  String endpointOn(int port, UUID app) {
    return TestGateway.send(
            port, http, "GET", "/v1/apps/" + app + "/endpoint", TestGateway.ADMIN_TOKEN, null)
        .body();
  }

  /** The node's delivery and callback series, for a failure message. */
  String deliveryMetrics(int port) {
    StringBuilder out = new StringBuilder();
    String text = TestGateway.send(port, http, "GET", "/metrics", null, null).body();
    for (String line : text.split("\n")) {
      if (!line.startsWith("#")
          && (line.startsWith("gateway_delivery_")
              || line.startsWith("gateway_callback_")
              || line.startsWith("gateway_control_")
              || line.startsWith("gateway_cluster_"))
          && !line.endsWith(" 0.0")
          && !line.contains("_bucket{")) {
        out.append(line).append("; ");
      }
    }
    return out.toString();
  }

  Map<String, Long> heads(List<String> merchants) {
    Map<String, Long> heads = new HashMap<>();
    merchants.forEach(m -> heads.put(m, fx.head(m)));
    return heads;
  }

  @Test
  void shouldNeverHaveTwoCallbackBatchesOfOneMerchantInFlightAcrossNodesThroughJoinsAndLeaves()
      throws Exception {
    try (Hook hook = new Hook(30)) {
      GatewayProcess b = node("b");
      String app = callbackApp(hook.url());
      // before C joins and with C, each node has channels of its own
      List<String> merchants =
          merchantsShared(
              "own-cb",
              12,
              UUID.fromString(app),
              2,
              List.of(List.of("a", "b"), List.of("a", "b", "c")));
      grant(app, merchants);
      ingest(merchants, 600, 20, a.port, b.port);
      fx.until("some delivered", WAIT, () -> hook.posts.size() > 20);
      GatewayProcess c = node("c"); // joins mid-delivery: channels move to it
      ingest(merchants, 600, 20, a.port, b.port, c.port);
      fx.until(
          "C delivers its share",
          WAIT,
          () -> metric(c.port, "gateway_delivery_events_sent_total") > 0,
          () ->
              "C's endpoint: "
                  + endpointOn(c.port, fx.apps.get(0))
                  + "; C: "
                  + deliveryMetrics(c.port));
      assertThat(c.terminate(Duration.ofSeconds(30))).isZero(); // leaves mid-delivery
      processes.remove(c);
      ingest(merchants, 300, 20, a.port, b.port);
      Map<String, Long> heads = heads(merchants);
      fx.until(
          "every event applied",
          WAIT,
          () -> merchants.stream().allMatch(m -> hook.applied.getOrDefault(m, 0L) >= heads.get(m)),
          () -> "applied " + hook.applied + ", heads " + heads + ", violations " + hook.violations);
      assertThat(hook.violations).isEmpty();
      assertThat(metric(a.port, "gateway_delivery_events_sent_total"))
          .as("A delivered")
          .isPositive();
      assertThat(metric(b.port, "gateway_delivery_events_sent_total"))
          .as("B delivered")
          .isPositive();
      fx.until(
          "cursors at the heads",
          WAIT,
          () -> merchants.stream().allMatch(m -> cursorOf(fx.apps.get(0), m) == heads.get(m)));
    }
  }

  long cursorOf(UUID app, String merchant) {
    return StreamFixture.join(fx.cursors.cursor(fx.vertx.getOrCreateContext(), app, merchant));
  }

  @Test
  void shouldTakeOverTheCallbackChannelsOfAKilledNodeWithinTheLease() throws Exception {
    try (Hook hook = new Hook(100)) {
      GatewayProcess b = node("b");
      UUID app = UUID.fromString(callbackApp(hook.url()));
      List<String> merchants =
          merchantsShared("own-kill-cb", 8, app, 2, List.of(List.of("a", "b")));
      grant(app.toString(), merchants);
      ingest(merchants, 800, 20, a.port, b.port);
      fx.until(
          "both nodes delivering",
          WAIT,
          () -> metric(b.port, "gateway_delivery_events_sent_total") > 0 && hook.posts.size() > 16,
          () ->
              "posts "
                  + hook.posts.size()
                  + "; B's endpoint: "
                  + endpointOn(b.port, app)
                  + "; B: "
                  + deliveryMetrics(b.port));
      long killedAt = System.currentTimeMillis();
      b.kill();
      processes.remove(b);
      // B can move nothing now: the cursors it left are what was acked before it died
      Map<String, Long> acked = new HashMap<>();
      Map<String, Long> readAt = new HashMap<>();
      for (String m : merchants) {
        acked.put(m, cursorOf(app, m));
        readAt.put(m, System.currentTimeMillis());
      }
      Map<String, Long> heads = heads(merchants);
      fx.until(
          "every event applied after the kill",
          WAIT,
          () -> merchants.stream().allMatch(m -> hook.applied.getOrDefault(m, 0L) >= heads.get(m)),
          () -> "applied " + hook.applied + ", heads " + heads);
      assertThat(hook.violations).isEmpty();
      long latestResume = 0;
      for (String m : merchants) {
        long after = acked.get(m);
        Hook.Post resumed = null;
        for (Hook.Post p : hook.postsOf(m)) {
          if (p.atMillis() > readAt.get(m)) {
            assertThat(p.first())
                .as(
                    "%s: sent %d..%d after the kill, at or below the acked cursor %d",
                    m, p.first(), p.last(), after)
                .isGreaterThan(after);
            if (resumed == null) {
              resumed = p;
            }
          }
        }
        if (resumed != null) {
          latestResume = Math.max(latestResume, resumed.atMillis() - killedAt);
        }
      }
      System.out.printf(
          "callback channels of the killed node resumed %d ms after the kill (lease %d ms)%n",
          latestResume, LEASE.toMillis());
      assertThat(io.orderpush.gateway.Scrape.value(a, "gateway_delivery_takeovers_total"))
          .as("A took channels over")
          .isPositive();
      assertThat(latestResume)
          .as("taken over after the lease, not after something slower")
          .isLessThan(2 * LEASE.toMillis() + 2000);
    }
  }

  /** Disjoint, complete and balanced: each merchant on exactly one connection. */
  static void assertOneOwnerEach(List<String> merchants, List<StreamClient> group) {
    Set<String> seen = new HashSet<>();
    for (StreamClient c : group) {
      for (String m : c.assigned()) {
        assertThat(seen.add(m)).as("%s assigned to two connections", m).isTrue();
      }
    }
    assertThat(seen).containsExactlyInAnyOrderElementsOf(merchants);
  }

  static boolean settled(List<String> merchants, List<StreamClient> group) {
    int total = 0;
    int min = Integer.MAX_VALUE;
    int max = 0;
    Set<String> union = new HashSet<>();
    for (StreamClient c : group) {
      int n = c.assigned().size();
      total += n;
      min = Math.min(min, n);
      max = Math.max(max, n);
      union.addAll(c.assigned());
    }
    return total == merchants.size() && union.size() == merchants.size() && max - min <= 1;
  }

  /** Per merchant, the connection of every events message, in arrival order. */
  final Map<String, List<String>> arrivals = new ConcurrentHashMap<>();

  /** Per merchant, every seq received with when (ms), on any connection. */
  final Map<String, List<long[]>> received = new ConcurrentHashMap<>();

  StreamClient consumer(TestApp app, int port, String name) {
    StreamClient c =
        fx.connect(
            app,
            port,
            (m, events) -> {
              arrivals.computeIfAbsent(m, k -> new CopyOnWriteArrayList<>()).add(name);
              long now = System.currentTimeMillis();
              lastArrival.put(name, now);
              for (int i = 0; i < events.size(); i++) {
                received
                    .computeIfAbsent(m, k -> new CopyOnWriteArrayList<>())
                    .add(new long[] {events.getJsonObject(i).getLong("seq"), now});
              }
            },
            m -> {});
    c.autoAck = true;
    return c;
  }

  boolean allReceived(Map<String, Long> heads) {
    return heads.entrySet().stream()
        .allMatch(
            e ->
                received.getOrDefault(e.getKey(), List.of()).stream()
                        .mapToLong(s -> s[0])
                        .distinct()
                        .count()
                    == e.getValue());
  }

  @Test
  void shouldKeepOneConnectionPerMerchantInAGroupSpanningNodesThroughJoinsAndLeaves()
      throws Exception {
    GatewayProcess b = node("b");
    TestApp app = fx.app("websocket");
    List<String> merchants = fx.merchants("own-ws", 20);
    merchants.forEach(m -> fx.grant(app, m));
    List<StreamClient> group = new ArrayList<>();
    group.add(consumer(app, a.port, "a1"));
    group.add(consumer(app, b.port, "b1"));
    fx.until("shared by A and B", WAIT, () -> settled(merchants, group), () -> sizes(group));
    assertOneOwnerEach(merchants, group);
    ingest(merchants, 400, 20, a.port, b.port);
    group.add(consumer(app, a.port, "a2"));
    fx.until("a third connection, on A", WAIT, () -> settled(merchants, group), () -> sizes(group));
    assertOneOwnerEach(merchants, group);
    ingest(merchants, 400, 20, a.port, b.port);
    group.add(consumer(app, b.port, "b2"));
    fx.until("a fourth, on B", WAIT, () -> settled(merchants, group), () -> sizes(group));
    assertOneOwnerEach(merchants, group);
    ingest(merchants, 400, 20, a.port, b.port);
    StreamClient leaving = group.remove(0);
    leaving.close();
    fx.until("the one on A left", WAIT, () -> settled(merchants, group), () -> sizes(group));
    assertOneOwnerEach(merchants, group);
    ingest(merchants, 400, 20, a.port, b.port);
    Map<String, Long> heads = heads(merchants);
    fx.until("every event received", WAIT, () -> allReceived(heads));
    // Connections of a merchant alternate only as often as the group changed (4 times): two
    // connections serving one merchant at once would interleave far more.
    for (String m : merchants) {
      List<String> order = arrivals.get(m);
      int runs = 1;
      for (int i = 1; i < order.size(); i++) {
        if (!order.get(i).equals(order.get(i - 1))) {
          runs++;
        }
      }
      assertThat(runs).as("%s delivered by %s", m, order).isLessThanOrEqualTo(5);
    }
    for (StreamClient c : group) {
      assertThat(c.faults()).as("errors").isEmpty();
    }
    fx.until(
        "cursors at the heads",
        WAIT,
        () -> merchants.stream().allMatch(m -> fx.cursor(app, m) == heads.get(m)));
  }

  static String sizes(List<StreamClient> group) {
    StringBuilder sb = new StringBuilder();
    group.forEach(c -> sb.append(c.assigned().size()).append(' '));
    return sb.toString();
  }

  @Test
  void shouldTakeOverTheWebSocketChannelsOfAKilledNodeWithinTheLease() throws Exception {
    GatewayProcess b = node("b");
    TestApp app = fx.app("websocket");
    List<String> merchants = fx.merchants("own-kill-ws", 10);
    merchants.forEach(m -> fx.grant(app, m));
    StreamClient onA = consumer(app, a.port, "a");
    StreamClient onB = consumer(app, b.port, "b");
    List<StreamClient> group = List.of(onA, onB);
    fx.until("shared by A and B", WAIT, () -> settled(merchants, group), () -> sizes(group));
    Set<String> ofB = Set.copyOf(onB.assigned());
    ingest(merchants, 500, 20, a.port, b.port);
    fx.until("B delivering", WAIT, () -> onB.total() > 20);
    long killedAt = System.currentTimeMillis();
    b.kill();
    processes.remove(b);
    Map<String, Long> acked = new HashMap<>();
    Map<String, Long> readAt = new HashMap<>();
    for (String m : merchants) {
      acked.put(m, fx.cursor(app, m));
      readAt.put(m, System.currentTimeMillis());
    }
    ingest(merchants, 200, 20, a.port);
    Map<String, Long> heads = heads(merchants);
    fx.until("all on A", WAIT, () -> onA.assigned().size() == merchants.size());
    fx.until("every event received", WAIT, () -> allReceived(heads));
    long latestResume = 0;
    for (String m : merchants) {
      long firstAfter = Long.MAX_VALUE;
      for (long[] s : received.get(m)) {
        if (s[1] > readAt.get(m)) {
          assertThat(s[0])
              .as(
                  "%s: seq %d received after the kill, at or below the acked cursor %d",
                  m, s[0], acked.get(m))
              .isGreaterThan(acked.get(m));
          firstAfter = Math.min(firstAfter, s[1]);
        }
      }
      if (ofB.contains(m) && firstAfter != Long.MAX_VALUE) {
        latestResume = Math.max(latestResume, firstAfter - killedAt);
      }
    }
    System.out.printf(
        "WebSocket channels of the killed node resumed %d ms after the kill (lease %d ms)%n",
        latestResume, LEASE.toMillis());
    assertThat(latestResume).isLessThan(2 * LEASE.toMillis() + 2000);
    fx.until(
        "cursors at the heads",
        WAIT,
        () -> merchants.stream().allMatch(m -> fx.cursor(app, m) == heads.get(m)));
  }

  @Test
  void shouldWakeAChannelOwnedByAnotherNodeAtOnceWhenEventsAreIngestedElsewhere() throws Exception {
    // B reconciles heads only every minute: within the wait below only a notice can wake it.
    GatewayProcess b = node("b", Map.of("GATEWAY_DELIVERY_RECONCILE_INTERVAL_MS", "60000"));
    TestApp app = fx.app("websocket");
    String m = fx.merchants("own-wake", 1).get(0);
    fx.grant(app, m);
    StreamClient onB = consumer(app, b.port, "b");
    fx.until("assigned on B", WAIT, () -> onB.assigned().contains(m));
    fx.until("claimed by B", WAIT, () -> String.valueOf(holderOf(app, m)).startsWith("b-"));
    long worst = 0;
    for (int round = 1; round <= 5; round++) {
      long sent = System.currentTimeMillis();
      ingest(List.of(m), 1, 1, a.port);
      int expected = round;
      fx.until("event " + round + " on B", Duration.ofSeconds(20), () -> onB.count(m) == expected);
      worst = Math.max(worst, lastArrivalOn("b") - sent);
    }
    System.out.printf("ingested on A, received on B: at most %d ms%n", worst);
    assertThat(worst).as("woken by a notice, not the minute's reconcile").isLessThan(20_000);
  }

  @Test
  void shouldStopAndJoinAgainWhenRedisLosesTheLiveNodes() throws Exception {
    try (Hook hook = new Hook(5)) {
      List<String> merchants = fx.merchants("own-lost", 3);
      callbackApp(hook.url(), merchants);
      TestApp app = fx.app("websocket");
      merchants.forEach(m -> fx.grant(app, m));
      StreamClient first = consumer(app, a.port, "first");
      fx.until("assigned", WAIT, () -> first.assigned().size() == merchants.size());
      ingest(merchants, 60, 10, a.port);
      Map<String, Long> before = heads(merchants);
      fx.until("delivered", WAIT, () -> allReceived(before));
      double lost = io.orderpush.gateway.Scrape.value(a, "gateway_cluster_lease_lost_total");
      // As a Redis restarted empty: the node's next renewal is refused.
      StreamFixture.join(fx.redis.call(fx.vertx.getOrCreateContext(), c -> c.del(NODES)));
      fx.until(
          "the lease lost",
          WAIT,
          () -> io.orderpush.gateway.Scrape.value(a, "gateway_cluster_lease_lost_total") > lost);
      fx.until("its connections closed", WAIT, () -> first.closed);
      fx.until(
          "joined again",
          WAIT,
          () -> io.orderpush.gateway.Scrape.value(a, "gateway_cluster_lease_held") == 1);
      StreamClient again = consumer(app, a.port, "again");
      ingest(merchants, 60, 10, a.port);
      Map<String, Long> heads = heads(merchants);
      fx.until("delivered after joining again", WAIT, () -> allReceived(heads));
      fx.until(
          "callbacks delivered after joining again",
          WAIT,
          () -> merchants.stream().allMatch(m -> hook.applied.getOrDefault(m, 0L) >= heads.get(m)));
      assertThat(hook.violations).isEmpty();
      assertThat(again.faults()).isEmpty();
    }
  }

  /** The live nodes' sorted set. */
  static final String NODES = "gw:nodes:{" + io.orderpush.gateway.TestGateway.CLUSTER + "}";

  /** The token of the node holding the channel in Redis, or null. */
  String holderOf(TestApp app, String merchant) {
    return StreamFixture.join(fx.cursors.holder(fx.vertx.getOrCreateContext(), app.id(), merchant));
  }

  /** This node's token's expiry in Redis (ms, Redis's clock: this machine's), or -1 if none. */
  long expiryOf(String nodeIdPrefix) {
    List<Object> members =
        StreamFixture.join(
            fx.redis.call(
                fx.vertx.getOrCreateContext(),
                c -> c.zrangeWithScores(NODES, 0, -1).thenApply(l -> List.<Object>copyOf(l))));
    long expiry = -1;
    for (Object o : members) {
      var v = (io.lettuce.core.ScoredValue<String>) o;
      if (v.getValue().startsWith(nodeIdPrefix)) {
        expiry = Math.max(expiry, (long) v.getScore());
      }
    }
    return expiry;
  }

  @Test
  void shouldStopDeliveringOnANodeCutOffFromRedisBeforeItsLeaseExpires() throws Exception {
    // One proxy in front of one Redis: a cluster's nodes would be reached around it.
    org.junit.jupiter.api.Assumptions.assumeTrue(redisEnv().isEmpty(), "single Redis only");
    try (var proxy = redisProxy()) {
      // Commands to a Redis that does not answer hang (a minute) rather than fail: only the lease
      // can stop this node, not failing acks.
      String bId = "b-cut-" + UUID.randomUUID().toString().substring(0, 6);
      Split split =
          split(
              proxy,
              "own-cut",
              Map.of("GATEWAY_REDIS_COMMAND_TIMEOUT_MS", "60000", "GATEWAY_NODE_ID", bId));
      GatewayProcess b = split.b();
      TestApp app = split.app();
      List<String> merchants = split.merchants();
      StreamClient onA = split.onA();
      StreamClient onB = split.onB();
      ingest(merchants, 100, 10, a.port);
      fx.until("B delivering", WAIT, () -> onB.total() > 0);

      // Cursors are watched from here on: none may ever move back.
      List<String> backwards = new CopyOnWriteArrayList<>();
      Map<String, Long> last = new ConcurrentHashMap<>();
      java.util.concurrent.atomic.AtomicBoolean watching =
          new java.util.concurrent.atomic.AtomicBoolean(true);
      Thread watcher =
          new Thread(
              () -> {
                while (watching.get()) {
                  for (String m : merchants) {
                    long now = fx.cursor(app, m);
                    Long before = last.put(m, now);
                    if (before != null && now < before) {
                      backwards.add(m + ": " + before + " -> " + now);
                    }
                  }
                }
              });
      watcher.start();
      try {
        proxy.blackhole();
        long expiry = expiryOf(bId);
        assertThat(expiry).as("B's lease in Redis").isPositive();
        // Events keep coming for B's merchants while B could still deliver them (from PostgreSQL).
        while (System.currentTimeMillis() < expiry + 1000) {
          ingest(merchants, 20, 10, a.port);
        }
        // B's close frame (going away) is the last it sends on the connection. The socket itself
        // closed up to 10 s later at times (the client's closing timeout), B having stopped reading
        // it while the consumer's acks waited for the Redis it is cut off from.
        fx.until(
            "B closed its connection", WAIT, () -> onB.closed || onB.ws.closeStatusCode() != null);
        long lastByB = lastArrivalOn("b");
        System.out.printf(
            "cut-off node's last event %d ms before its lease expired in Redis%n",
            expiry - lastByB);
        assertThat(lastByB)
            .as("B delivered nothing once its lease could have expired")
            .isLessThan(expiry);
        fx.until("A took everything", WAIT, () -> onA.assigned().size() == merchants.size());
        Map<String, Long> heads = heads(merchants);
        fx.until("every event received", WAIT, () -> allReceived(heads));
        fx.until(
            "cursors at the heads",
            WAIT,
            () -> merchants.stream().allMatch(m -> fx.cursor(app, m) == heads.get(m)));
        assertThat(lastArrivalOn("b"))
            .as("B sent nothing after its close frame")
            .isEqualTo(lastByB);
      } finally {
        watching.set(false);
        watcher.join();
      }
      assertThat(backwards).as("cursors that moved back").isEmpty();
    }
  }

  /**
   * A connection that closes while its node cannot write to Redis leaves no member behind in the
   * group registry: the node removes its entries of apps it no longer serves every lease, until
   * none is left. Left there, the entry of a live node's closed connection got a share of the
   * channels that nobody delivered.
   */
  @Test
  void shouldHandTheOthersTheChannelsOfAConnectionThatClosedWhileItsNodeWasCutOffFromRedis()
      throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(redisEnv().isEmpty(), "single Redis only");
    try (var proxy = redisProxy()) {
      Split split = split(proxy, "own-ghost", Map.of());
      GatewayProcess b = split.b();
      List<String> merchants = split.merchants();
      StreamClient onA = split.onA();
      StreamClient onB = split.onB();
      List<StreamClient> group = List.of(onA, onB);
      String leaseOfB = leaseToken(idOf("b"));

      // B's commands go into a connection that answers nothing; the close is handled meanwhile
      proxy.blackhole();
      // then the connection is reset: what B sent into it (the registry removal among it) fails
      closeThenReset(onB, b, proxy);

      fx.until(
          "A's connection to have every merchant",
          WAIT,
          () -> onA.assigned().size() == merchants.size(),
          () -> sizes(group));
      assertThat(leaseToken(idOf("b")))
          .as("B kept its lease (a new one would make its old entries dead anyway)")
          .isEqualTo(leaseOfB);
      // every event reaches A: B released the channels it held, and any claim of its connection
      // that landed while its answer was lost (the test below makes that happen on purpose)
      ingest(merchants, 100, 10, a.port, b.port);
      Map<String, Long> heads = heads(merchants);
      fx.until(
          "every event received",
          WAIT,
          () -> allReceived(heads),
          () -> {
            StringBuilder sb = new StringBuilder();
            heads.forEach(
                (m, h) ->
                    sb.append(m)
                        .append(" head ")
                        .append(h)
                        .append(" got ")
                        .append(
                            received.getOrDefault(m, List.of()).stream()
                                .mapToLong(x -> x[0])
                                .distinct()
                                .count())
                        .append(" onA ")
                        .append(onA.assigned().contains(m))
                        .append(" redis ")
                        .append(
                            (Object)
                                StreamFixture.join(
                                    fx.redis.call(
                                        fx.vertx.getOrCreateContext(),
                                        c ->
                                            c.hgetall(
                                                "gw:ch:{" + split.app().id() + ":" + m + "}"))))
                        .append('\n'));
            return sb.toString();
          });
    }
  }

  /**
   * A channel a live node could not release while Redis did not answer it is released once Redis
   * answers again: until then no other node can claim it (its holder is alive), and the node used
   * to give up after 5 attempts, leaving the channel to nobody while it kept its lease.
   */
  @Test
  void shouldReleaseOnceRedisAnswersAgainTheChannelsANodeCouldNotReleaseWhileCutOff()
      throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(redisEnv().isEmpty(), "single Redis only");
    try (var proxy = redisProxy()) {
      // a lease that outlasts the cut; commands that fail fast while it lasts
      Split split =
          split(
              proxy,
              "own-release",
              Map.of("GATEWAY_NODE_LEASE_MS", "30000", "GATEWAY_REDIS_COMMAND_TIMEOUT_MS", "300"));
      String leaseOfB = leaseToken(idOf("b"));
      double failures = metric(split.b().port, "gateway_delivery_release_failures_total");

      proxy.blackhole();
      split.onB().close();
      fx.until(
          "B to give up releasing its channels for now",
          WAIT,
          () -> metric(split.b().port, "gateway_delivery_release_failures_total") > failures);
      proxy.forward();
      proxy.cut();

      List<String> merchants = split.merchants();
      fx.until(
          "A's connection to have every merchant",
          WAIT,
          () -> split.onA().assigned().size() == merchants.size());
      ingest(merchants, 100, 10, a.port);
      Map<String, Long> heads = heads(merchants);
      fx.until("every event received on A", WAIT, () -> allReceived(heads));
      assertThat(leaseToken(idOf("b")))
          .as("B kept its lease (the others would have taken over at its end anyway)")
          .isEqualTo(leaseOfB);
    }
  }

  /**
   * A claim Redis ran while its answer was lost (the connection reset before it came back) left the
   * channel with its live node for good once the channel was let go meanwhile: the node never knew
   * it held it, so never released it, and no other node could claim it. Made here on purpose: the
   * channels are held by a live node the test plays, so B's claims wait; B's answers are dropped,
   * the test lets the channels go, B's next claims land unanswered, B's connection closes, and the
   * connection is reset. B must find and release what landed.
   */
  @Test
  void shouldReleaseAClaimThatLandedWhileItsAnswerWasLostOnceItsChannelWasLetGo() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(redisEnv().isEmpty(), "single Redis only");
    try (var proxy = redisProxy()) {
      java.net.URI redisUri = java.net.URI.create(TestServices.redisUrl());
      GatewayProcess b =
          node(
              "b",
              Map.of(
                  "GATEWAY_REDIS_URL",
                  "redis://127.0.0.1:" + proxy.port() + redisUri.getPath(),
                  "GATEWAY_NODE_LEASE_MS",
                  "30000"));
      TestApp app = fx.app("websocket");
      List<String> merchants = fx.merchants("own-unsure", 3);
      merchants.forEach(m -> fx.grant(app, m));
      var ctx = fx.vertx.getOrCreateContext();
      long now = // Redis's clock, in ms, as leases count it
          1000 * Long.parseLong(StreamFixture.join(fx.redis.call(ctx, c -> c.time())).get(0));
      // Joined "later" than B's view: B never takes it for dead, only for not yet seen, and reads
      // the live nodes again (a node of an earlier test still in the set let B count 3 without
      // it, and B took the channels over as a dead node's).
      String other =
          "played-" + UUID.randomUUID().toString().substring(0, 6) + "/" + (now + 120_000) + "/x";
      java.util.function.Function<String, String> key = m -> "gw:ch:{" + app.id() + ":" + m + "}";
      java.util.function.Function<String, String> holder = m -> holderOf(app, m);
      StreamFixture.join(fx.redis.call(ctx, c -> c.zadd(NODES, now + 120_000, other)));
      try {
        for (String m : merchants) {
          StreamFixture.join(fx.redis.call(ctx, c -> c.hset(key.apply(m), "node", other)));
        }
        // B takes the played node for live (else it takes the channels over as a dead node's)
        fx.until(
            "B to see the played node",
            WAIT,
            () -> metric(b.port, "gateway_cluster_nodes") == 3,
            () -> "B sees " + metric(b.port, "gateway_cluster_nodes"));
        double waiting = metric(b.port, "gateway_delivery_claims_waiting_total");
        StreamClient onB = consumer(app, b.port, "b");
        fx.until("B's connection assigned", WAIT, () -> onB.assigned().size() == merchants.size());
        fx.until(
            "B's claims refused while the played node holds the channels",
            WAIT,
            () ->
                metric(b.port, "gateway_delivery_claims_waiting_total")
                    >= waiting + merchants.size());
        proxy.deafen();
        for (String m : merchants) {
          StreamFixture.join(fx.redis.call(ctx, c -> c.hset(key.apply(m), "node", "released")));
        }
        fx.until(
            "B's claims landed, unanswered",
            WAIT,
            () ->
                merchants.stream()
                    .map(holder)
                    .allMatch(h -> h != null && h.startsWith(idOf("b") + "/")),
            () -> merchants.stream().map(holder).toList().toString());
        closeThenReset(onB, b, proxy);
        fx.until(
            "B released what landed",
            WAIT,
            () -> merchants.stream().allMatch(m -> holder.apply(m) == null),
            () -> merchants.stream().map(holder).toList().toString());
        assertThat(metric(b.port, "gateway_delivery_unsure_claims_released_total"))
            .isEqualTo(merchants.size());
      } finally {
        StreamFixture.join(fx.redis.call(ctx, c -> c.zrem(NODES, other)));
      }
    }
  }

  /**
   * Closes B's consumer, waits for B to handle the close, then resets B's Redis connections (the
   * proxy forwards again for new ones).
   */
  void closeThenReset(
      StreamClient onB, GatewayProcess b, io.orderpush.gateway.testing.TcpProxy proxy) {
    onB.close();
    fx.until(
        "B to handle the close", WAIT, () -> metric(b.port, "gateway_stream_connections") == 0);
    proxy.forward();
    proxy.cut();
  }

  /** A proxy in front of the single test Redis. */
  static io.orderpush.gateway.testing.TcpProxy redisProxy() {
    java.net.URI redisUri = java.net.URI.create(TestServices.redisUrl());
    return io.orderpush.gateway.testing.TcpProxy.start(
        redisUri.getHost(), redisUri.getPort() < 0 ? 6379 : redisUri.getPort());
  }

  /** Node B, an app of 10 merchants, and its group's connection on A and on B, sharing them. */
  record Split(
      GatewayProcess b, TestApp app, List<String> merchants, StreamClient onA, StreamClient onB) {}

  /** B reaches Redis through {@code proxy}, with {@code extra} in its environment. */
  Split split(io.orderpush.gateway.testing.TcpProxy proxy, String kind, Map<String, String> extra)
      throws Exception {
    java.net.URI redisUri = java.net.URI.create(TestServices.redisUrl());
    Map<String, String> env = new HashMap<>(extra);
    env.put("GATEWAY_REDIS_URL", "redis://127.0.0.1:" + proxy.port() + redisUri.getPath());
    GatewayProcess b = node("b", env);
    TestApp app = fx.app("websocket");
    List<String> merchants = fx.merchants(kind, 10);
    merchants.forEach(m -> fx.grant(app, m));
    StreamClient onA = consumer(app, a.port, "a");
    StreamClient onB = consumer(app, b.port, "b");
    List<StreamClient> group = List.of(onA, onB);
    fx.until("shared by A and B", WAIT, () -> settled(merchants, group), () -> sizes(group));
    return new Split(b, app, merchants, onA, onB);
  }

  /** The lease token of the node whose id is {@code nodeId}, null if it has none. */
  String leaseToken(String nodeId) {
    List<String> members =
        StreamFixture.join(
            fx.redis.call(fx.vertx.getOrCreateContext(), c -> c.zrange(NODES, 0, -1)));
    return members.stream().filter(t -> t.startsWith(nodeId + "/")).findFirst().orElse(null);
  }

  /** Per connection name, when its last events message arrived (ms). */
  final Map<String, Long> lastArrival = new ConcurrentHashMap<>();

  long lastArrivalOn(String name) {
    return lastArrival.getOrDefault(name, 0L);
  }
}
