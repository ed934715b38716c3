package io.orderpush.delivery.control;

import io.orderpush.persistence.apps.AppStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.HashMap;
import java.util.HashSet;
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
 * again next round. Confined to the bus's context.
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

  VersionWatch(
      Context context, AppStore apps, ControlMetrics metrics, Function<Change, Future<Void>> sink) {
    this.context = context;
    this.apps = apps;
    this.metrics = metrics;
    this.sink = sink;
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
              for (UUID app : changed) {
                metrics.resyncs.increment();
                sink.apply(Change.of(Change.Kind.RESYNC, app))
                    .onFailure(err -> context.runOnContext(v -> forget(app)));
              }
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

  /** The app's change did not apply: report it again next round. */
  private void forget(UUID app) {
    if (seen != null) {
      seen.put(app, -1L);
    }
  }
}
