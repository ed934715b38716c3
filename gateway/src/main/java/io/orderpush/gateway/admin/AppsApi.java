package io.orderpush.gateway.admin;

import io.orderpush.delivery.callback.CallbackService;
import io.orderpush.delivery.callback.CallbackUrlRefusedException;
import io.orderpush.delivery.control.Change;
import io.orderpush.gateway.http.ApiException;
import io.orderpush.gateway.http.Utf16;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.CreatedApp;
import io.orderpush.persistence.apps.DeliveryMode;
import io.orderpush.persistence.apps.IdempotentCreate;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Operator endpoints for apps: create (credentials shown once, idempotent with an Idempotency-Key),
 * list, get, webhook secret rotation.
 */
public final class AppsApi {

  static final int MAX_NAME = 200;
  static final int MAX_URL = 2048;
  static final int MAX_PAGE = 500;
  static final int MAX_IDEMPOTENCY_KEY = 255;

  private final AppStore apps;
  private final CallbackService callbacks;
  private final Duration secretGrace;
  private final Changes changes;

  public AppsApi(AppStore apps, CallbackService callbacks, Duration secretGrace, Changes changes) {
    this.apps = apps;
    this.callbacks = callbacks;
    this.secretGrace = secretGrace;
    this.changes = changes;
  }

  public void create(RoutingContext ctx) {
    String key = idempotencyKey(ctx);
    JsonObject body = AdminJson.body(ctx);
    String name = name(body.getValue("name"));
    if (!(body.getValue("delivery") instanceof JsonObject delivery)) {
      throw invalid(
          "delivery",
          "required: {\"mode\": \"websocket\"} or {\"mode\": \"callback\", \"url\": ...}");
    }
    DeliveryMode mode;
    try {
      mode = DeliveryMode.fromWire(delivery.getValue("mode") instanceof String m ? m : null);
    } catch (IllegalArgumentException e) {
      throw invalid("delivery.mode", "must be websocket or callback");
    }
    Optional<String> url = Optional.empty();
    if (mode == DeliveryMode.CALLBACK) {
      url = Optional.of(callbackUrl(delivery.getValue("url")));
    } else if (delivery.containsKey("url")) {
      throw invalid("delivery.url", "only callback apps have a url");
    }
    Future<Void> allowed =
        url.map(u -> callbacks.checkUrl(u).recover(AppsApi::refusedUrl))
            .orElse(Future.succeededFuture());
    Optional<String> callbackUrl = url;
    allowed
        .compose(
            v ->
                key == null
                    ? apps.create(name, mode, callbackUrl)
                        .map(c -> new IdempotentCreate(c.app(), Optional.of(c), true))
                    : apps.createOnce(key, name, mode, callbackUrl))
        .compose(
            outcome ->
                outcome.created().isEmpty()
                    ? Future.succeededFuture(outcome)
                    : (mode == DeliveryMode.CALLBACK
                            ? callbacks.appCreated(outcome.app())
                            : Future.<Void>succeededFuture())
                        .compose(
                            x ->
                                changes.publish(
                                    Change.of(Change.Kind.CREATED, outcome.app().appId())))
                        .map(outcome))
        .onSuccess(outcome -> answerCreate(ctx, outcome))
        .onFailure(ctx::fail);
  }

  /**
   * 201 with the credentials for a new app; for a retry under the same Idempotency-Key, 200 with
   * the app it made and no credentials (they are shown once: rotate them if the first answer was
   * lost); 409 if the key was used for another request.
   */
  private static void answerCreate(RoutingContext ctx, IdempotentCreate outcome) {
    if (outcome.created().isPresent()) {
      CreatedApp created = outcome.created().get();
      AdminJson.send(
          ctx,
          201,
          AdminJson.app(created.app())
              .put("token", created.token())
              .put("webhookSecret", created.webhookSecret()));
    } else if (outcome.sameRequest()) {
      ctx.response().putHeader("Idempotent-Replayed", "true");
      AdminJson.send(ctx, 200, AdminJson.app(outcome.app()));
    } else {
      ctx.fail(
          new ApiException(
              409,
              "idempotency_key_reused",
              "Idempotency-Key was used for another request, which created app "
                  + outcome.app().appId(),
              List.of(Map.of("field", "Idempotency-Key", "problem", "used for another request"))));
    }
  }

  /** The Idempotency-Key header: absent, or 1 to 255 printable ASCII characters. */
  private static String idempotencyKey(RoutingContext ctx) {
    String key = ctx.request().getHeader("Idempotency-Key");
    if (key != null && !key.matches("[!-~]{1," + MAX_IDEMPOTENCY_KEY + "}")) {
      throw invalid(
          "Idempotency-Key",
          "must be 1 to " + MAX_IDEMPOTENCY_KEY + " printable ASCII characters without spaces");
    }
    return key;
  }

  public void list(RoutingContext ctx) {
    int limit = limit(ctx.queryParams().get("limit"));
    Optional<UUID> after;
    try {
      after = Optional.ofNullable(ctx.queryParams().get("after")).map(UUID::fromString);
    } catch (IllegalArgumentException e) {
      throw invalid("after", "must be an appId from a previous page");
    }
    apps.list(limit, after)
        .onSuccess(
            page -> {
              JsonArray items = new JsonArray();
              page.forEach(a -> items.add(AdminJson.app(a)));
              Object next =
                  page.size() == limit ? page.get(page.size() - 1).appId().toString() : null;
              AdminJson.send(ctx, 200, new JsonObject().put("apps", items).put("next", next));
            })
        .onFailure(ctx::fail);
  }

  public void get(RoutingContext ctx) {
    apps.get(AdminJson.appId(ctx))
        .onSuccess(a -> AdminJson.send(ctx, 200, AdminJson.app(a)))
        .onFailure(ctx::fail);
  }

  /**
   * Replaces the webhook secret; the old one keeps signing (a second signature) for the grace
   * period.
   */
  public void rotateSecret(RoutingContext ctx) {
    UUID appId = AdminJson.appId(ctx);
    apps.rotateSecret(appId, secretGrace)
        // Applied here and told to the others; the new secret is answered even if that fails: it
        // is committed, shown once, and the reconcile applies the rotation on every node (a retry
        // would rotate again and end the grace of the secret receivers hold).
        .compose(rotated -> callbacks.secretsChanged(appId).otherwiseEmpty().map(rotated))
        .compose(
            rotated ->
                changes
                    .publish(Change.of(Change.Kind.SECRET_ROTATED, appId))
                    .otherwiseEmpty()
                    .map(rotated))
        .onSuccess(
            rotated ->
                AdminJson.send(
                    ctx,
                    200,
                    new JsonObject()
                        .put("appId", appId.toString())
                        .put("webhookSecret", rotated.secret())
                        .put("previousSecretValidUntil", rotated.previousValidUntil().toString())))
        .onFailure(ctx::fail);
  }

  static int limit(String raw) {
    if (raw == null) {
      return 100;
    }
    try {
      int n = Integer.parseInt(raw);
      if (n >= 1 && n <= MAX_PAGE) {
        return n;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw invalid("limit", "must be an integer from 1 to " + MAX_PAGE);
  }

  private static String name(Object value) {
    String name = value instanceof String s ? s.strip() : null;
    if (name == null || name.isEmpty() || name.length() > MAX_NAME) {
      throw invalid("name", "required: a string of 1 to " + MAX_NAME + " characters");
    }
    if (name.chars().anyMatch(Character::isISOControl)) {
      throw invalid("name", "must not contain control characters");
    }
    if (Utf16.hasLoneSurrogate(name)) {
      throw invalid("name", Utf16.LONE_SURROGATE);
    }
    return name;
  }

  /** Type and length only; the callback delivery owns the URL rules and checks the rest. */
  private static String callbackUrl(Object value) {
    if (!(value instanceof String s) || s.isEmpty() || s.length() > MAX_URL) {
      throw invalid(
          "delivery.url",
          "required for callback apps: an http or https URL of at most " + MAX_URL + " characters");
    }
    return s;
  }

  /** Every refusal names the field; a URL that is not one is an invalid request. */
  private static Future<Void> refusedUrl(Throwable err) {
    if (!(err instanceof CallbackUrlRefusedException refused)) {
      return Future.failedFuture(err);
    }
    List<Map<String, Object>> details =
        List.of(Map.of("field", "delivery.url", "problem", refused.getMessage()));
    return Future.failedFuture(
        new ApiException(
            400,
            refused.malformed() ? "invalid_request" : "callback_url_refused",
            refused.getMessage(),
            details));
  }

  static ApiException invalid(String field, String problem) {
    return new ApiException(
        400,
        "invalid_request",
        field + " " + problem,
        List.of(Map.of("field", field, "problem", problem)));
  }
}
