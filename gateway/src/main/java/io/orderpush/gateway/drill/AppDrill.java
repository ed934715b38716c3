package io.orderpush.gateway.drill;

import io.orderpush.gateway.ingest.EventParser;
import io.orderpush.persistence.apps.App;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.events.GroupCommitter;
import io.orderpush.persistence.events.NewEvent;
import io.orderpush.synthetic.OrderStream;
import io.orderpush.synthetic.Profile;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load of one app drill, on the node that started it: every 100 ms it commits the events the
 * profile asks for (capped by the drill's maximum rate) through the same parser and group commits
 * as ingest, for the drill's sandbox merchants only. Each second it records what it offered and
 * checks that it may go on: not stopped or deleted, the app neither deleted, frozen, nor its
 * endpoint suspended, the maximum duration not reached. After the profile it waits for the app to
 * drain (or the drain limit), then writes the report.
 */
final class AppDrill {

  private static final Logger LOG = LoggerFactory.getLogger(AppDrill.class);

  static final long TICK_MS = 100;

  /** Appends in flight at most: past it the drill offers less than asked, and says so. */
  static final int MAX_APPENDS_IN_FLIGHT = 32;

  /** The row name under which the load's own seconds are stored. */
  static final String LOAD = "_load";

  /** How long the nodes get to write their last seconds before the report is made. */
  static final long SETTLE_MS = 2500;

  private final Vertx vertx;
  private final DrillStore store;
  private final GroupCommitter committer;
  private final EventParser parser;
  private final AppStore apps;
  private final DrillSettings settings;
  private final DrillInfo started;
  private final OrderStream orders;
  private final Profile profile;
  private final Consumer<AppDrill> ended;
  private final long startedAtMs;

  private long timer = -1;
  private double owed;
  private int inFlight;
  private boolean exhausted;
  private long offeredTotal;

  /** The drills' context (not an HTTP verticle's): every other field is used on it only. */
  private final Context context;

  private int lastSecondWritten = -1;
  private boolean checking;
  private boolean ending;
  private final Map<Integer, long[]> offered = new TreeMap<>();
  private final Map<Integer, Double> targets = new TreeMap<>();

  AppDrill(
      Vertx vertx,
      Context context,
      DrillStore store,
      GroupCommitter committer,
      EventParser parser,
      AppStore apps,
      DrillSettings settings,
      DrillInfo started,
      OrderStream orders,
      Profile profile,
      long startedAtMs,
      Consumer<AppDrill> ended) {
    this.vertx = vertx;
    this.context = context;
    this.store = store;
    this.committer = committer;
    this.parser = parser;
    this.apps = apps;
    this.settings = settings;
    this.started = started;
    this.orders = orders;
    this.profile = profile;
    this.startedAtMs = startedAtMs;
    this.ended = ended;
  }

  String drillId() {
    return started.drillId();
  }

  void start() {
    context.runOnContext(v -> timer = vertx.setPeriodic(TICK_MS, TICK_MS, t -> tick()));
  }

  /**
   * {@code f}'s outcome handled on the drill's context: PostgreSQL and the committer complete on
   * their own.
   */
  private <T> void onHere(Future<T> f, Handler<AsyncResult<T>> handler) {
    f.onComplete(ar -> context.runOnContext(v -> handler.handle(ar)));
  }

  private double elapsedS(long now) {
    return (now - startedAtMs) / 1000.0;
  }

  private void tick() {
    if (ending) {
      return;
    }
    long now = System.currentTimeMillis();
    double t = elapsedS(now);
    int second = (int) t;
    if (t >= settings.maxDurationS()) {
      end("stopped", "the drill reached its maximum duration of " + settings.maxDurationS() + " s");
      return;
    }
    double target = Math.min(profile.rateAt(t), settings.maxRate());
    targets.merge(second, target * TICK_MS / 1000.0, Double::sum);
    if (!exhausted && t < profile.totalS()) {
      // never more than one second's worth owed: a drill that could not keep its rate does not
      // catch up in a burst above the cap
      owed = Math.min(owed + target * TICK_MS / 1000.0, Math.max(target, 1));
      while (owed >= 1 && inFlight < MAX_APPENDS_IN_FLIGHT && !exhausted) {
        String body = orders.next();
        if (body == null) {
          exhausted = true;
          break;
        }
        List<NewEvent> events = parser.parse(body.getBytes(StandardCharsets.UTF_8));
        owed -= events.size();
        inFlight++;
        onHere(
            committer.append(events),
            ar -> {
              inFlight--;
              if (ar.succeeded()) {
                int at = (int) elapsedS(System.currentTimeMillis());
                offered.computeIfAbsent(at, k -> new long[1])[0] += events.size();
                offeredTotal += events.size();
              } else {
                LOG.warn("drill {}: an append failed: {}", drillId(), ar.cause().toString());
              }
            });
      }
    }
    if (second > lastSecondWritten + 1 && !checking) {
      everySecond(second, t);
    }
  }

  /** Records the seconds that are over and checks whether the drill may go on. */
  private void everySecond(int current, double t) {
    checking = true;
    List<DrillSecond> due = new ArrayList<>();
    for (int s = lastSecondWritten + 1; s < current; s++) {
      long[] o = offered.remove(s);
      Double target = targets.remove(s);
      due.add(
          new DrillSecond(
              s,
              profile.phaseAt(s + 0.5),
              target == null ? 0 : target,
              o == null ? 0 : o[0],
              0,
              new LatencyBuckets(),
              new LatencyBuckets(),
              Map.of(),
              0,
              0,
              0));
    }
    lastSecondWritten = current - 1;
    boolean appending = inFlight > 0;
    long offeredSoFar = offeredTotal;
    Future<Optional<String>> check =
        store
            .writeSamples(drillId(), LOAD, due)
            .compose(v -> store.state(drillId()))
            .compose(
                state -> {
                  if (state.isEmpty()) {
                    return Future.succeededFuture(Optional.of("deleted"));
                  }
                  if (!"running".equals(state.get())) {
                    return Future.succeededFuture(Optional.of("stopped"));
                  }
                  return apps.find(java.util.UUID.fromString(started.appId()))
                      .map(this::refusal)
                      .compose(
                          refusal ->
                              refusal.isPresent() || t < profile.totalS()
                                  ? Future.succeededFuture(refusal)
                                  : drained(appending, offeredSoFar));
                });
    onHere(
        check,
        ar -> {
          checking = false;
          if (ar.failed()) {
            LOG.warn("drill {}: check failed: {}", drillId(), ar.cause().toString());
            return;
          }
          Optional<String> stop = ar.result();
          if (stop.isEmpty()) {
            return;
          }
          switch (stop.get()) {
            case "deleted" -> end(null, null);
            case "stopped" -> end("stopped", null);
            case "finished" -> end("finished", null);
            case "not drained" ->
                end("finished", "the backlog did not drain within " + settings.drainS() + " s");
            default -> end("stopped", stop.get());
          }
        });
  }

  /** Why the app can no longer be drilled, if it cannot. */
  private Optional<String> refusal(Optional<App> app) {
    if (app.isEmpty()) {
      return Optional.of("the app was deleted");
    }
    if (!"active".equals(app.get().state())) {
      return Optional.of("the app was frozen");
    }
    if ("suspended".equals(app.get().endpointState())) {
      return Optional.of("the app's callback endpoint was suspended");
    }
    return Optional.empty();
  }

  /** After the profile: finished once everything offered was acked, or the drain limit passed. */
  private Future<Optional<String>> drained(boolean appending, long offeredSoFar) {
    if (appending) {
      return Future.succeededFuture(Optional.empty());
    }
    return store
        .acked(drillId())
        .map(
            acked -> {
              if (acked >= offeredSoFar) {
                return Optional.of("finished");
              }
              double since = elapsedS(System.currentTimeMillis()) - profile.totalS();
              return since >= settings.drainS() ? Optional.of("not drained") : Optional.empty();
            });
  }

  /** Stops now (a stop command seen on any node ends up here within a second). Any thread. */
  void stopNow() {
    context.runOnContext(v -> end("stopped", null));
  }

  /**
   * Ends the load; unless the drill was deleted ({@code state} null), waits for the nodes' last
   * seconds and stores the report.
   */
  private void end(String state, String reason) {
    if (ending) {
      return;
    }
    ending = true;
    vertx.cancelTimer(timer);
    Promise<Void> done = Promise.promise();
    if (state == null) {
      done.complete();
    } else {
      Future<?> stopFirst =
          "stopped".equals(state) && reason != null
              ? store.stop(drillId(), reason)
              : Future.succeededFuture();
      onHere(
          stopFirst
              .compose(v -> settle())
              .compose(v -> report(state, reason))
              // a finished drill's sandbox grants go too, as a stopped one's did with the stop
              .eventually(
                  () ->
                      "finished".equals(state)
                          ? store
                              .revokeGrants(drillId())
                              .onFailure(
                                  err ->
                                      LOG.warn(
                                          "drill {}: its sandbox grants stay until it is deleted:"
                                              + " {}",
                                          drillId(),
                                          err.toString()))
                          : Future.succeededFuture()),
          ar -> {
            if (ar.failed()) {
              LOG.warn("drill {}: no report: {}", drillId(), ar.cause().toString());
            }
            done.complete();
          });
    }
    done.future().onComplete(v -> ended.accept(this));
  }

  private Future<Void> settle() {
    Promise<Void> p = Promise.promise();
    vertx.setTimer(SETTLE_MS, t -> p.complete());
    return p.future();
  }

  private Future<Void> report(String state, String reason) {
    return store
        .find(drillId())
        .compose(
            row -> {
              if (row.isEmpty()) {
                return Future.succeededFuture();
              }
              String finalState =
                  "running".equals(row.get().getString("state"))
                      ? state
                      : row.get().getString("state");
              String why = row.get().getString("stopReason", reason);
              return store
                  .samples(drillId())
                  .compose(
                      samples -> {
                        DrillReport report =
                            DrillReport.of(
                                started.ended(finalState, why, java.time.Instant.now()),
                                Drills.bySecond(samples));
                        return store.finish(
                            drillId(),
                            finalState,
                            why,
                            report.summary(),
                            report.markdown(),
                            report.html());
                      });
            });
  }
}
