package io.orderpush.delivery.control;

import io.orderpush.persistence.apps.AppStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backstop for lost notices: every interval, reads every app's control version (one query of
 * (uuid, bigint) rows: cheap at thousands of apps) and reports each app whose version moved, that
 * is new, or that is gone since the last round. An app whose change failed to apply is reported
 * again next round. One resync of an app runs at a time: an app whose version moves again while its
 * resync runs (a stream of grants to an app of many merchants, each resync reading all of its
 * grants) is resynced once more when that one ends, not once per round on top of it. At most
 * {@value #MAX_RESYNCS} resyncs run at once on a node; the apps beyond wait in order, each once (a
 * first round after a failed baseline reports every app). Confined to the bus's context.
 */
final class VersionWatch {

  private static final Logger LOG = LoggerFactory.getLogger(VersionWatch.class);

  private final Context context;
  private final AppStore apps;
  private final ControlMetrics metrics;
  private final Function<Change, Future<Void>> sink;

  /** The versions seen last round; null until a first read succeeded. */
  private Map<UUID, Long> seen;

  private boolean running;
  private boolean failing;

  /** A resync not done by then counts as failed (tried again next round). */
  static final long RESYNC_TIMEOUT_MS = 120_000;

  /** Resyncs that run at once; each reads all of an app's grants from PostgreSQL. */
  static final int MAX_RESYNCS = 4;

  /** Apps whose resync runs, each with whether it moved again meanwhile (then one more follows). */
  private final Map<UUID, Boolean> resyncing = new HashMap<>();

  /** Apps waiting for one of the {@link #MAX_RESYNCS}, in the order they were found changed. */
  private final Set<UUID> waiting = new LinkedHashSet<>();

  VersionWatch(
      Context context, AppStore apps, ControlMetrics metrics, Function<Change, Future<Void>> sink) {
    this.context = context;
    this.apps = apps;
    this.metrics = metrics;
    this.sink = sink;
    metrics.resyncsWaiting(waiting::size);
  }

  /**
   * Takes the baseline: the versions of the state this node is about to load. If PostgreSQL fails
   * now, the first round that succeeds reports every app.
   */
  Future<Void> baseline() {
    return apps.controlVersions()
        .<Void>map(
            versions -> {
              seen = versions;
              return null;
            })
        .recover(
            err -> {
              LOG.warn("reading the apps' control versions failed: {}", err.toString());
              return Future.succeededFuture();
            });
  }

  /** One round; a round still running makes this one a no-op. */
  Future<Void> round() {
    if (running) {
      return Future.succeededFuture();
    }
    running = true;
    return apps.controlVersions()
        .<Void>map(
            now -> {
              if (failing) {
                failing = false;
                LOG.info("reading the apps' control versions works again");
              }
              Set<UUID> changed = new HashSet<>();
              Map<UUID, Long> before = seen == null ? Map.of() : seen;
              now.forEach(
                  (app, version) -> {
                    if (seen == null || !version.equals(before.get(app))) {
                      changed.add(app);
                    }
                  });
              before.keySet().stream().filter(app -> !now.containsKey(app)).forEach(changed::add);
              seen = new HashMap<>(now);
              changed.forEach(this::resync);
              return null;
            })
        .onFailure(
            err -> {
              metrics.reconcileFailures.increment();
              if (!failing) {
                failing = true;
                LOG.warn(
                    "reading the apps' control versions failed, trying again next round: {}",
                    err.toString());
              }
            })
        .onComplete(ar -> running = false);
  }

  private void resync(UUID app) {
    if (resyncing.containsKey(app)) {
      resyncing.put(app, true);
      return;
    }
    if (resyncing.size() >= MAX_RESYNCS) {
      waiting.add(app);
      return;
    }
    waiting.remove(app);
    resyncing.put(app, false);
    metrics.resyncs.increment();
    Future<Void> applied;
    try {
      applied = sink.apply(Change.of(Change.Kind.RESYNC, app));
    } catch (RuntimeException e) {
      applied = Future.failedFuture(e);
    }
    // one that never ends must not hold the app's resyncs for good: it counts as failed
    applied
        .timeout(RESYNC_TIMEOUT_MS, java.util.concurrent.TimeUnit.MILLISECONDS)
        .onComplete(
            ar ->
                context.runOnContext(
                    v -> {
                      if (ar.failed()) {
                        forget(app);
                      }
                      if (Boolean.TRUE.equals(resyncing.remove(app))) {
                        // once more, behind the apps already waiting
                        waiting.add(app);
                      }
                      while (resyncing.size() < MAX_RESYNCS && !waiting.isEmpty()) {
                        resync(waiting.iterator().next());
                      }
                    }));
  }

  /** The app's change did not apply: report it again next round. */
  private void forget(UUID app) {
    if (seen != null) {
      seen.put(app, -1L);
    }
  }
}
