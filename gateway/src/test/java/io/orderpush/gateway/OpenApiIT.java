package io.orderpush.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.ingest.CommitFeed;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import io.vertx.json.schema.Draft;
import io.vertx.json.schema.JsonSchema;
import io.vertx.json.schema.JsonSchemaOptions;
import io.vertx.json.schema.OutputUnit;
import io.vertx.json.schema.SchemaRepository;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.contract.Operation;
import io.vertx.openapi.validation.RequestParameter;
import io.vertx.openapi.validation.RequestValidator;
import io.vertx.openapi.validation.ResponseValidator;
import io.vertx.openapi.validation.ValidatableResponse;
import io.vertx.openapi.validation.impl.RequestParameterImpl;
import io.vertx.openapi.validation.impl.ValidatableRequestImpl;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * docs/openapi.yaml against a running gateway: every route of the router is in the spec and every
 * operation of the spec is served (but for the allow-list below), and every route, driven with real
 * requests, answers what the spec declares (status, headers, body schema), for requests that the
 * spec accepts.
 */
class OpenApiIT {

  /**
   * Operations of PRODUCT.md that other branches add (app lifecycle, audit). They are in the spec
   * already; the merger removes each from this list once its route is served, and the test fails
   * while a served route is still listed here.
   */
  static final Set<String> NOT_SERVED_YET = Set.of();

  /** Routes that are not API: the operator console's static pages (docs/operations.md). */
  /** The console's pages, and the nodes' commit feed (signed by a node, docs/scale-out.md). */
  static final Set<String> NOT_API =
      Set.of("GET /console", "GET /console/", "GET " + CommitFeed.PATH);

  /** vertx-openapi 5.0 knows no NDJSON media type: these are checked a line at a time here. */
  static final Set<String> NDJSON = Set.of("application/x-ndjson");

  /** Text answers (drill reports) the contract cannot parse: their media type is checked here. */
  static final Set<String> TEXT = Set.of("text/markdown", "text/html");

  static final Path SPEC = Path.of("..", "docs", "openapi.yaml");

  static TestGateway gw;
  static Vertx vertx;

  /** The apps the tests made, removed at the end. */
  static final List<String> apps = new java.util.concurrent.CopyOnWriteArrayList<>();

  static JsonObject spec;
  static OpenAPIContract contract;
  static RequestValidator requests;
  static ResponseValidator responses;
  static SchemaRepository schemas;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  final Set<String> answered = new TreeSet<>();

  @BeforeAll
  static void start() throws IOException {
    gw = TestGateway.start(Map.of("GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1"));
    vertx = Vertx.vertx();
    Map<String, Object> yaml = new Yaml().load(Files.readString(SPEC));
    spec = new JsonObject(new JsonObject(yaml).encode()); // nested maps and lists as JSON types
    schemas =
        SchemaRepository.create(
            new JsonSchemaOptions().setDraft(Draft.DRAFT202012).setBaseUri("app:///"));
    schemas.dereference("app:///openapi.json", JsonSchema.of(spec.copy()));
    // The contract is validated against the OpenAPI 3.1 meta-schema as it loads.
    contract = join(OpenAPIContract.from(vertx, withoutNdjson(spec.copy())));
    requests = RequestValidator.create(vertx, contract);
    responses = ResponseValidator.create(vertx, contract);
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
    TestApps.deleteRows(apps);
    if (vertx != null) {
      join(vertx.close());
    }
  }

  @Test
  void shouldServeEveryOperationOfTheSpecAndNoRouteOutsideIt() {
    Set<String> served = new TreeSet<>();
    for (Route route : new Routes(gw.gateway).router(gw.gateway.vertx()).getRoutes()) {
      if (route.getPath() == null || route.methods() == null) {
        continue; // the catch-all access log and failure handlers
      }
      for (HttpMethod m : route.methods()) {
        String key = m.name() + " " + route.getPath().replaceAll(":(\\w+)", "{$1}");
        if (!NOT_API.contains(key)) {
          served.add(key);
        }
      }
    }
    Set<String> specified = new TreeSet<>();
    spec.getJsonObject("paths")
        .forEach(
            p ->
                ((JsonObject) p.getValue())
                    .fieldNames()
                    .forEach(
                        m -> {
                          if (Set.of("get", "put", "post", "delete", "patch").contains(m)) {
                            specified.add(m.toUpperCase(Locale.ROOT) + " " + p.getKey());
                          }
                        }));

    assertThat(served).as("routes served but not in docs/openapi.yaml").isSubsetOf(specified);
    Set<String> missing = new TreeSet<>(specified);
    missing.removeAll(served);
    assertThat(missing)
        .as("operations in docs/openapi.yaml that the gateway does not serve (NOT_SERVED_YET)")
        .isEqualTo(NOT_SERVED_YET);
  }

  @Test
  void shouldAnswerEveryRouteAsTheSpecSays() {
    String merchant = TestServices.uniqueMerchant("openapi");
    String other = TestServices.uniqueMerchant("openapi");
    String admin = TestGateway.ADMIN_TOKEN;
    String ingest = TestGateway.INGEST_TOKEN;

    check("GET", "/health/live", null, null, null, 200);
    check("GET", "/health/ready", null, null, null, 200);
    check("GET", "/metrics", null, null, null, 200);

    JsonObject ws =
        check("POST", "/v1/apps", admin, app("openapi-ws", "websocket", null), JSON, 201).json();
    String callbackUrl = "http://127.0.0.1:" + TestGateway.freePort() + "/hooks";
    JsonObject cb =
        check("POST", "/v1/apps", admin, app("openapi-cb", "callback", callbackUrl), JSON, 201)
            .json();
    String wsId = ws.getString("appId");
    String cbId = cb.getString("appId");
    apps.add(wsId);
    apps.add(cbId);
    String appToken = ws.getString("token");
    checkRefused("POST", "/v1/apps", admin, "{\"name\":\"\"}", JSON, 400);
    checkRefused("POST", "/v1/apps", null, app("x", "websocket", null), JSON, 401);
    check("GET", "/v1/apps?limit=2", admin, null, null, 200);
    checkRefused("GET", "/v1/apps?limit=0", admin, null, null, 400);
    check("GET", "/v1/apps/" + wsId, admin, null, null, 200);
    check("GET", "/v1/apps/" + cbId, admin, null, null, 200);
    check("GET", "/v1/apps/" + java.util.UUID.randomUUID(), admin, null, null, 404);
    check("POST", "/v1/apps/" + cbId + "/secret/rotate", admin, null, null, 200);

    String earliest = "{\"scopes\":[\"pii\"],\"start\":\"earliest\"}";
    check("PUT", "/v1/merchants/" + merchant + "/grants/" + wsId, admin, earliest, JSON, 200);
    check("PUT", "/v1/merchants/" + merchant + "/grants/" + cbId, admin, "{}", JSON, 200);
    check("GET", "/v1/apps/" + wsId + "/grants?limit=10", admin, null, null, 200);

    String batch =
        Events.batch(List.of(Events.event(merchant, "e-1"), Events.event(merchant, "e-2")));
    check("POST", "/v1/events", ingest, batch, JSON, 200);
    String ndjson = Events.event(merchant, "e-3").encode() + "\n";
    check("POST", "/v1/events", ingest, ndjson, "application/x-ndjson", 200);
    checkRefused("POST", "/v1/events", ingest, "[{\"eventId\":\"x\"}]", JSON, 400);
    checkRefused("POST", "/v1/events", ingest, "<events/>", "application/xml", 415);
    checkRefused("POST", "/v1/events", "wrong-token-0123456789abcdef", batch, JSON, 401);

    check("GET", "/v1/merchants/" + merchant + "/events?fromSeq=1", appToken, null, null, 200);
    check("GET", "/v1/merchants/" + other + "/events", appToken, null, null, 403);
    check("GET", "/v1/channels?limit=10", appToken, null, null, 200);
    check("PUT", "/v1/channels/" + merchant + "/cursor", appToken, "{\"seq\":1}", JSON, 200);
    check("PUT", "/v1/channels/" + merchant + "/cursor", appToken, "{\"seq\":99}", JSON, 400);
    checkRefused("GET", "/v1/stream", null, null, null, 400);

    check("GET", "/v1/lag?appId=" + wsId + "&limit=10", admin, null, null, 200);
    checkRefused("GET", "/v1/lag?minLag=-1", admin, null, null, 400);
    check("GET", "/v1/apps/" + wsId + "/impact", admin, null, null, 200);
    check("GET", "/v1/apps/" + cbId + "/impact", admin, null, null, 200);
    check("GET", "/v1/apps/" + cbId + "/endpoint", admin, null, null, 200);
    check("POST", "/v1/apps/" + cbId + "/endpoint/retry", admin, null, null, 200);
    check("POST", "/v1/apps/" + cbId + "/endpoint/suspend", admin, null, null, 200);
    check("POST", "/v1/apps/" + cbId + "/endpoint/retry", admin, null, null, 409);
    check("POST", "/v1/apps/" + cbId + "/endpoint/resume", admin, null, null, 200);

    check("DELETE", "/v1/merchants/" + merchant + "/grants/" + cbId, admin, null, null, 204);
    check("DELETE", "/v1/merchants/" + merchant + "/grants/" + cbId, admin, null, null, 404);
    check("DELETE", "/v1/merchants/" + merchant + "/grants/" + wsId, admin, null, null, 204);

    check(
        "GET", "/v1/audit/deliveries?merchantId=" + merchant + "&limit=5", admin, null, null, 200);
    checkRefused("GET", "/v1/audit/deliveries", admin, null, null, 400);

    // Lifecycle: freeze, unfreeze, token rotation, idempotent create, delete.
    check("POST", "/v1/apps/" + wsId + "/freeze", admin, null, null, 200);
    checkRefused("GET", "/v1/channels", appToken, null, null, 403);
    check("POST", "/v1/apps/" + wsId + "/unfreeze", admin, null, null, 200);
    check("POST", "/v1/apps/" + wsId + "/token/rotate", admin, null, null, 200);
    check("POST", "/v1/apps/" + java.util.UUID.randomUUID() + "/freeze", admin, null, null, 404);
    headers = Map.of("Idempotency-Key", "openapi-" + java.util.UUID.randomUUID());
    String once = app("openapi-once", "websocket", null);
    String onceId = check("POST", "/v1/apps", admin, once, JSON, 201).json().getString("appId");
    assertThat(check("POST", "/v1/apps", admin, once, JSON, 200).json().getString("appId"))
        .isEqualTo(onceId);
    check("POST", "/v1/apps", admin, app("openapi-other", "websocket", null), JSON, 409);
    headers = Map.of();
    check("DELETE", "/v1/apps/" + onceId, admin, null, null, 204);
    check("DELETE", "/v1/apps/" + onceId, admin, null, null, 404);

    // App drills: a tiny one on the callback app (whose endpoint answers nothing), stopped.
    String drill =
        check(
                "POST",
                "/v1/drills",
                admin,
                new JsonObject()
                    .put("appId", cbId)
                    .put("scale", 0.00001)
                    .put("tailMerchants", 2)
                    .put("peakRate", 50)
                    .put("drainS", 0)
                    .encode(),
                JSON,
                201)
            .json()
            .getString("drillId");
    checkRefused("POST", "/v1/drills", admin, "{\"appId\":\"x\",\"scale\":-1}", JSON, 400);
    check("GET", "/v1/drills", admin, null, null, 200);
    check("GET", "/v1/drills/" + drill, admin, null, null, 200);
    check("GET", "/v1/drills/" + drill + "/report", admin, null, null, 409);
    check("POST", "/v1/drills/" + drill + "/stop", admin, null, null, 200);
    check("POST", "/v1/drills/" + drill + "/stop", admin, null, null, 409);
    Await.until(
        "the stopped drill's report",
        Duration.ofSeconds(30),
        () -> gw.send("GET", "/v1/drills/" + drill + "/report", admin, null).statusCode() == 200);
    check("GET", "/v1/drills/" + drill + "/report", admin, null, null, 200);
    check("GET", "/v1/drills/" + drill + "/report.html", admin, null, null, 200);
    check("DELETE", "/v1/drills/" + drill, admin, null, null, 204);
    check("GET", "/v1/drills/" + drill, admin, null, null, 404);

    // Every served operation got at least one answer of its own success class, validated.
    Set<String> expected = new TreeSet<>();
    for (Operation op : contract.operations()) {
      String key = op.getHttpMethod().name() + " " + op.getOpenAPIPath();
      if (!NOT_SERVED_YET.contains(key)) {
        expected.add(key);
      }
    }
    assertThat(answered).as("operations answered 2xx (or the stream's 400)").isEqualTo(expected);
  }

  static final String JSON = "application/json";

  /** Extra request headers for the next checks (e.g. Idempotency-Key). */
  Map<String, String> headers = Map.of();

  static String app(String name, String mode, String url) {
    JsonObject delivery = new JsonObject().put("mode", mode);
    if (url != null) {
      delivery.put("url", url);
    }
    return new JsonObject().put("name", name).put("delivery", delivery).encode();
  }

  record Answer(HttpResponse<String> response) {
    JsonObject json() {
      return new JsonObject(response.body());
    }
  }

  /** A request the spec accepts: the request is validated too, then the answer. */
  Answer check(
      String method, String pathAndQuery, String token, String body, String type, int status) {
    return exchange(method, pathAndQuery, token, body, type, status, true);
  }

  /** A request the spec does not accept, sent on purpose: only the answer is validated. */
  Answer checkRefused(
      String method, String pathAndQuery, String token, String body, String type, int status) {
    return exchange(method, pathAndQuery, token, body, type, status, false);
  }

  private Answer exchange(
      String method,
      String pathAndQuery,
      String token,
      String body,
      String type,
      int status,
      boolean valid) {
    URI uri = URI.create("http://127.0.0.1:" + gw.port + pathAndQuery);
    Operation op = contract.findOperation(uri.getPath(), HttpMethod.valueOf(method));
    assertThat(op).as("%s %s is in the spec", method, uri.getPath()).isNotNull();
    String what = method + " " + pathAndQuery + " (" + op.getOperationId() + ")";
    if (valid) {
      validateRequest(op, uri, body, type, what);
    }
    HttpResponse<String> response = send(method, uri, token, body, type);
    assertThat(response.statusCode()).as(what + ": " + response.body()).isEqualTo(status);
    assertThat(response.headers().firstValue("X-Request-Id")).as(what).isPresent();
    validateResponse(op, response, what);
    if (status / 100 == 2 || op.getOperationId().equals("stream")) {
      answered.add(op.getHttpMethod().name() + " " + op.getOpenAPIPath());
    }
    return new Answer(response);
  }

  private static void validateRequest(
      Operation op, URI uri, String body, String type, String what) {
    Map<String, RequestParameter> path = new HashMap<>();
    Matcher names = Pattern.compile("\\{(\\w+)}").matcher(op.getOpenAPIPath());
    Matcher values =
        Pattern.compile(op.getOpenAPIPath().replaceAll("\\{\\w+}", "([^/]+)"))
            .matcher(uri.getPath());
    assertThat(values.matches()).as(what).isTrue();
    for (int i = 1; names.find(); i++) {
      path.put(names.group(1), new RequestParameterImpl(values.group(i)));
    }
    Map<String, RequestParameter> query = new HashMap<>();
    if (uri.getRawQuery() != null) {
      for (String pair : uri.getRawQuery().split("&")) {
        String[] kv = pair.split("=", 2);
        query.put(kv[0], new RequestParameterImpl(kv.length > 1 ? kv[1] : ""));
      }
    }
    if (type != null && NDJSON.contains(type)) {
      JsonObject media = mediaType(requestBodyOf(op), type, what);
      for (String line : body.split("\n")) {
        if (!line.isBlank()) {
          validateJson(media, new JsonObject(line), what + " request line");
        }
      }
      // The contract has no NDJSON body to check against; lines are checked, parameters next.
      assertThat(op.getParameters()).as(what + ": NDJSON with parameters is not checked").isEmpty();
      return;
    }
    var request =
        new ValidatableRequestImpl(
            Map.of(),
            Map.of(),
            path,
            query,
            body == null ? null : new RequestParameterImpl(Buffer.buffer(body)),
            type);
    try {
      join(requests.validate(request, op.getOperationId()));
    } catch (RuntimeException e) {
      throw new AssertionError(what + ": request does not match the spec: " + message(e), e);
    }
  }

  private static void validateResponse(Operation op, HttpResponse<String> response, String what) {
    String type =
        response
            .headers()
            .firstValue("Content-Type")
            .map(t -> t.split(";")[0].trim().toLowerCase(Locale.ROOT))
            .orElse(null);
    Map<String, String> headers = new HashMap<>();
    // vertx-openapi reads a header value that is not a JSON value as a string by quoting it, which
    // fails on values with quotes (WWW-Authenticate: Bearer realm="x"): those go JSON-encoded.
    response
        .headers()
        .map()
        .forEach(
            (k, v) -> headers.put(k, v.get(0).contains("\"") ? Json.encode(v.get(0)) : v.get(0)));
    boolean hasBody = !response.body().isEmpty();
    if (type != null && TEXT.contains(type)) {
      mediaType(responseOf(op, response.statusCode(), what).getJsonObject("content"), type, what);
      hasBody = false;
    }
    if (type != null && NDJSON.contains(type)) {
      JsonObject media =
          mediaType(
              responseOf(op, response.statusCode(), what).getJsonObject("content"), type, what);
      for (String line : response.body().split("\n")) {
        if (!line.isBlank()) {
          validateJson(media, new JsonObject(line), what + " answer line");
        }
      }
      hasBody = false;
    }
    ValidatableResponse answer =
        hasBody
            ? ValidatableResponse.create(
                response.statusCode(), headers, Buffer.buffer(response.body()), type)
            : ValidatableResponse.create(response.statusCode(), headers);
    if (hasBody) {
      JsonObject declared = responseOf(op, response.statusCode(), what).getJsonObject("content");
      assertThat(declared == null ? Set.of() : declared.fieldNames())
          .as(what + ": declared media types of the answer")
          .contains(type);
    }
    try {
      join(responses.validate(answer, op.getOperationId()));
    } catch (RuntimeException e) {
      throw new AssertionError(
          what
              + ": answer "
              + response.statusCode()
              + " does not match the spec: "
              + message(e)
              + "\n"
              + response.body(),
          e);
    }
  }

  /** The raw operation object of the spec (with the NDJSON media types the contract lacks). */
  private static JsonObject rawOperation(Operation op) {
    return spec.getJsonObject("paths")
        .getJsonObject(op.getOpenAPIPath())
        .getJsonObject(op.getHttpMethod().name().toLowerCase(Locale.ROOT));
  }

  private static JsonObject requestBodyOf(Operation op) {
    return rawOperation(op).getJsonObject("requestBody").getJsonObject("content");
  }

  private static JsonObject responseOf(Operation op, int status, String what) {
    JsonObject declared = rawOperation(op).getJsonObject("responses");
    JsonObject response = declared.getJsonObject(Integer.toString(status));
    assertThat(response).as(what + ": status " + status + " is declared").isNotNull();
    if (response.containsKey("$ref")) {
      String name = response.getString("$ref").substring("#/components/responses/".length());
      response = spec.getJsonObject("components").getJsonObject("responses").getJsonObject(name);
    }
    return response;
  }

  private static JsonObject mediaType(JsonObject content, String type, String what) {
    assertThat(content).as(what + ": has a body").isNotNull();
    JsonObject media = content.getJsonObject(type);
    assertThat(media).as(what + ": media type " + type + " is declared").isNotNull();
    return media;
  }

  private static void validateJson(JsonObject media, Object value, String what) {
    JsonObject schema = media.getJsonObject("schema").copy();
    if (schema.containsKey("$ref")) {
      schema.put("$ref", "app:///openapi.json" + schema.getString("$ref"));
    }
    OutputUnit result = schemas.validator(JsonSchema.of(schema)).validate(value);
    assertThat(result.getValid())
        .as(what + " does not match " + schema + ": " + result.getErrors() + "\n" + value)
        .isTrue();
  }

  /** vertx-openapi refuses a contract with a media type it cannot parse. */
  static JsonObject withoutNdjson(JsonObject spec) {
    spec.getJsonObject("paths")
        .forEach(
            p ->
                ((JsonObject) p.getValue())
                    .forEach(
                        o -> {
                          if (!(o.getValue() instanceof JsonObject op)) {
                            return;
                          }
                          JsonObject body = op.getJsonObject("requestBody");
                          if (body != null) {
                            NDJSON.forEach(t -> body.getJsonObject("content").remove(t));
                          }
                          JsonObject rs = op.getJsonObject("responses", new JsonObject());
                          rs.forEach(
                              r -> {
                                JsonObject content =
                                    ((JsonObject) r.getValue()).getJsonObject("content");
                                if (content != null) {
                                  NDJSON.forEach(content::remove);
                                  TEXT.forEach(content::remove);
                                  if (content.isEmpty()) {
                                    ((JsonObject) r.getValue()).remove("content");
                                  }
                                }
                              });
                        }));
    return spec;
  }

  private HttpResponse<String> send(
      String method, URI uri, String token, String body, String type) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(30))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    if (type != null) {
      b.header("Content-Type", type);
    }
    headers.forEach(b::header);
    try {
      return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static String message(Throwable e) {
    StringBuilder sb = new StringBuilder(String.valueOf(e.getMessage()));
    for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
      sb.append(" <- ").append(c.getMessage());
    }
    if (e instanceof io.vertx.openapi.validation.SchemaValidationException s) {
      sb.append(" ").append(s.getOutputUnit().getErrors());
    }
    return sb.toString();
  }

  static <T> T join(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new IllegalStateException(e.getCause());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
