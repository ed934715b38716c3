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
 * {@code POST /v1/events}: validates the whole batch, hands it to the group committer (or, on a
 * node that is not the cluster's writer, to the writer over the commit feed: {@link
 * CommitFeed#append}), and answers only after the transaction holding it has committed.
 */
public final class IngestHandler implements Handler<RoutingContext> {

  private final EventParser parser;
  private final GroupCommitter committer;
  private final CommitFeed feed;
  private final String forwardedHeader;

  public IngestHandler(EventParser parser, GroupCommitter committer) {
    this(parser, committer, null, null);
  }

  /**
   * @param feed sends the parsed events to the writer node, or null: this node writes them
   * @param forwardedHeader a request carrying it came from another node over HTTP, and is written
   *     here whatever the feed
   */
  public IngestHandler(
      EventParser parser, GroupCommitter committer, CommitFeed feed, String forwardedHeader) {
    this.parser = parser;
    this.committer = committer;
    this.feed = feed;
    this.forwardedHeader = forwardedHeader;
  }

  @Override
  public void handle(RoutingContext ctx) {
    Buffer body = ctx.body().buffer();
    if (body == null || body.length() == 0) {
      throw ApiException.badRequest("the request carries no events");
    }
    List<NewEvent> events = parser.parse(body.getBytes());
    boolean here = feed == null || ctx.request().getHeader(forwardedHeader) != null;
    (here ? committer.append(events) : feed.append(events, committer::append))
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
