package io.orderpush.client;

import java.util.Map;

/**
 * The callback side, usable from any HTTP server: give it the request's exact body bytes and its
 * headers, answer with the status it returns. It verifies the signature, parses the batch, applies
 * the events not applied yet through the {@link AppliedStore} and the handler, and says 204 (the
 * gateway moves the cursor), also for a batch applied before (a retry whose 2xx was lost).
 *
 * <pre>{@code
 * CallbackReceiver<Connection> receiver =
 *     new CallbackReceiver<>(new WebhookVerifier(secret), store, (batch, tx) -> save(batch, tx));
 * // in the HTTP handler of POST /hooks:
 * CallbackReceiver.Result r = receiver.handle(bodyBytes, headers);
 * respond(r.status());
 * }</pre>
 */
public final class CallbackReceiver<T> {

  /**
   * What to answer, and why.
   *
   * @param status 204 applied or already applied; 401 signature refused; 400 not a batch; 500 the
   *     handler or the store failed, or a gap ({@link GapException}): the gateway retries
   * @param failure the reason when the status is not 204, else null
   */
  public record Result(int status, Exception failure) {
    public boolean applied() {
      return status == 204;
    }
  }

  private final WebhookVerifier verifier;
  private final AppliedStore<T> store;
  private final BatchHandler<T> handler;

  public CallbackReceiver(
      WebhookVerifier verifier, AppliedStore<T> store, BatchHandler<T> handler) {
    this.verifier = verifier;
    this.store = store;
    this.handler = handler;
  }

  /** Verifies and applies one callback request. Never throws. */
  public Result handle(byte[] body, Map<String, ?> headers) {
    try {
      verifier.verify(body, headers);
    } catch (WebhookVerificationException e) {
      return new Result(401, e);
    }
    Batch batch;
    try {
      batch = Batch.fromJson(body);
    } catch (OrderPushException e) {
      return new Result(400, e);
    }
    try {
      store.applyOnce(batch, handler);
      return new Result(204, null);
    } catch (Exception e) {
      return new Result(500, e);
    }
  }
}
