package io.orderpush.delivery.control;

import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ChangeBus} of a gateway node: notices through Redis pub/sub ({@link RedisNotices})
 * backed by a periodic comparison of the apps' control versions in PostgreSQL ({@link
 * VersionWatch}). Everything runs on the context it is given; nothing blocks.
 */
public final class ControlChanges implements ChangeBus {

  private static final Logger LOG = LoggerFactory.getLogger(ControlChanges.class);

  private final Context context;
  private final ControlSettings settings;
  private final ControlMetrics metrics;
  private final RedisNotices notices;
  private final VersionWatch versions;
  private final List<ChangeListener> listeners = new CopyOnWriteArrayList<>();
  private long timer = -1;

  public ControlChanges(
      Context context,
      RedisStore redis,
      AppStore apps,
      ControlSettings settings,
      MeterRegistry registry) {
    this.context = context;
    this.settings = settings;
    this.metrics = new ControlMetrics(registry);
    this.notices = new RedisNotices(context, redis, settings, metrics, this::dispatch);
    this.versions = new VersionWatch(context, apps, metrics, this::dispatch);
  }

  /**
   * Listens for notices, then takes the reconcile's baseline; call before loading any app state, so
   * that every change after the load is either heard or found. Never fails: while Redis or
   * PostgreSQL is away it keeps trying in the background.
   */
  public Future<Void> start() {
    return onContext(
        () ->
            notices
                .start()
                .compose(v -> versions.baseline())
                .onComplete(
                    ar -> {
                      long every = settings.reconcileInterval().toMillis();
                      timer = context.owner().setPeriodic(every, every, id -> versions.round());
                    }));
  }

  @Override
  public Future<Void> publish(Change change) {
    return onContext(() -> notices.publish(change))
        .onFailure(
            err ->
                LOG.warn(
                    "could not publish {} of app {} to the other nodes (they follow within {} ms"
                        + " through the reconcile): {}",
                    change.kind(),
                    change.appId(),
                    settings.reconcileInterval().toMillis(),
                    err.toString()));
  }

  @Override
  public void onChange(ChangeListener listener) {
    listeners.add(listener);
  }

  /** Runs one reconcile round now (operations and tests); completes when it has been dispatched. */
  public Future<Void> reconcile() {
    return onContext(versions::round);
  }

  public String nodeId() {
    return settings.nodeId();
  }

  private Future<Void> dispatch(Change change) {
    List<Future<Void>> applied = new ArrayList<>(listeners.size());
    for (ChangeListener l : listeners) {
      Future<Void> f;
      try {
        f = l.changed(change);
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      applied.add(f);
    }
    return Future.all(applied)
        .<Void>mapEmpty()
        .onFailure(
            err -> {
              metrics.applyFailures.increment();
              LOG.warn(
                  "applying {} of app {} failed; the reconcile tries again: {}",
                  change.kind(),
                  change.appId(),
                  err.toString());
            });
  }

  public Future<Void> close() {
    return onContext(
        () -> {
          context.owner().cancelTimer(timer);
          return notices.close();
        });
  }

  private <T> Future<T> onContext(java.util.function.Supplier<Future<T>> work) {
    io.vertx.core.Promise<T> p = io.vertx.core.Promise.promise();
    context.runOnContext(
        v -> {
          try {
            work.get().onComplete(p);
          } catch (RuntimeException e) {
            p.fail(e);
          }
        });
    return p.future();
  }
}
