package io.orderpush.gateway.ingest;

import io.orderpush.gateway.http.ApiException;
import io.orderpush.persistence.events.AppendResult;
import io.orderpush.persistence.events.GroupCommitter;
import io.orderpush.persistence.events.NewEvent;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.Json;
import io.vertx.ext.web.RoutingContext;
import java.util.List;

/**
 * {@code POST /v1/events}: validates the whole batch, hands it to the group committer, and answers
 * only after the transaction holding it has committed.
 */
public final class IngestHandler implements Handler<RoutingContext> {

  private final EventParser parser;
  private final GroupCommitter committer;

  public IngestHandler(EventParser parser, GroupCommitter committer) {
    this.parser = parser;
    this.committer = committer;
  }

  @Override
  public void handle(RoutingContext ctx) {
    Buffer body = ctx.body().buffer();
    if (body == null || body.length() == 0) {
      throw ApiException.badRequest("the request carries no events");
    }
    List<NewEvent> events = parser.parse(body.getBytes());
    committer
        .append(events)
        .onSuccess(
            results ->
                ctx.response().putHeader("Content-Type", "application/json").end(render(results)))
        .onFailure(ctx::fail);
  }

  static String render(List<AppendResult> results) {
    StringBuilder sb = new StringBuilder(results.size() * 80).append('[');
    for (int i = 0; i < results.size(); i++) {
      AppendResult r = results.get(i);
      if (i > 0) {
        sb.append(',');
      }
      sb.append("{\"eventId\":")
          .append(Json.encode(r.eventId()))
          .append(",\"merchantId\":")
          .append(Json.encode(r.merchantId()))
          .append(",\"seq\":")
          .append(r.seq())
          .append(",\"duplicate\":")
          .append(r.duplicate())
          .append('}');
    }
    return sb.append(']').toString();
  }
}
