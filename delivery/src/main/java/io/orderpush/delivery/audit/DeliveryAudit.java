package io.orderpush.delivery.audit;

import io.orderpush.delivery.channel.Channel;
import io.orderpush.persistence.audit.AuditLog;
import io.orderpush.persistence.audit.AuditRecord;
import io.orderpush.persistence.audit.Transport;
import io.orderpush.persistence.events.LoggedEvent;
import java.net.URI;
import java.util.List;

/**
 * Records the batches the push transports send: one record per batch, never per event. Called on
 * the delivery engine's context; recording only queues (see {@code AuditWriter}).
 */
public final class DeliveryAudit {

  public static final DeliveryAudit NONE = new DeliveryAudit(AuditLog.DISABLED);

  private final AuditLog log;

  public DeliveryAudit(AuditLog log) {
    this.log = log;
  }

  /**
   * Whether the channel's batches leave with personal data masked: unless its grant carries {@code
   * pii} (a batch read just before the grant gained it is recorded as unmasked, the safe side).
   */
  public static boolean masked(Channel channel) {
    return !channel.pii();
  }

  /**
   * A WebSocket connection was handed a batch (one {@code events} message, or several in a row).
   */
  public void websocket(
      Channel channel, String connectionId, List<LoggedEvent> events, boolean masked) {
    log.record(
        AuditRecord.sent(
            channel.appId(),
            channel.merchantId(),
            events.get(0).seq(),
            events.get(events.size() - 1).seq(),
            Transport.WEBSOCKET,
            connectionId,
            System.currentTimeMillis(),
            masked));
  }

  /**
   * One POST attempt of a callback batch ended.
   *
   * @param status the HTTP answer, 0 if there was none
   * @param error what went wrong when there was no answer (kept only then)
   */
  public void callback(
      Channel channel,
      URI url,
      long fromSeq,
      long toSeq,
      long sentAtMillis,
      int status,
      String error,
      boolean masked) {
    log.record(
        new AuditRecord(
            channel.appId(),
            channel.merchantId(),
            fromSeq,
            toSeq,
            Transport.CALLBACK,
            url.toString(),
            sentAtMillis,
            masked,
            status,
            status == 0 ? error : null));
  }
}
