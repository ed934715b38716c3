package io.orderpush.gateway.client;

import io.orderpush.client.Batch;
import io.orderpush.client.ConsumerListener;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A {@link ConsumerListener} that keeps what a test wants to look at. */
final class Recorder implements ConsumerListener {

  final String name;
  final List<Exception> batchFailures = new CopyOnWriteArrayList<>();
  final List<String> serverErrors = new CopyOnWriteArrayList<>();
  final List<String> protocolErrors = new CopyOnWriteArrayList<>();
  final List<String> disconnects = new CopyOnWriteArrayList<>();

  /** "assigned m", "unassigned m" and "acked m seq", in the order they happened. */
  final List<String> log = new CopyOnWriteArrayList<>();

  volatile int connects;

  Recorder(String name) {
    this.name = name;
  }

  @Override
  public void connected(String connectionId) {
    connects++;
  }

  @Override
  public void assigned(List<String> merchants) {
    merchants.forEach(m -> log.add("assigned " + m));
  }

  @Override
  public void unassigned(List<String> merchants) {
    merchants.forEach(m -> log.add("unassigned " + m));
  }

  @Override
  public void acked(String merchantId, long seq) {
    log.add("acked " + merchantId + " " + seq);
  }

  @Override
  public void batchFailed(Batch batch, Exception error, Duration retryIn) {
    batchFailures.add(error);
  }

  @Override
  public void serverError(String code, String message) {
    serverErrors.add(code + ": " + message);
  }

  @Override
  public void protocolError(String what) {
    protocolErrors.add(what);
  }

  @Override
  public void disconnected(String why, Duration reconnectIn) {
    disconnects.add(why);
  }

  @Override
  public String toString() {
    return name
        + " connects="
        + connects
        + " failures="
        + batchFailures
        + " serverErrors="
        + serverErrors
        + " protocolErrors="
        + protocolErrors
        + " disconnects="
        + disconnects;
  }
}
