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

  /** Whether batches may leave now: false while the audit trail's buffer is at its mark. */
  public boolean admitting() {
    return log.admitting();
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
    if (channel.sandbox()) {
      return; // a drill's synthetic merchants: the drill's report covers them, not the audit trail
    }
    log.record(
        AuditRecord.sent(
                channel.appId(),
                channel.merchantId(),
                events.get(0).seq(),
                events.get(events.size() - 1).seq(),
                Transport.WEBSOCKET,
                connectionId,
                System.currentTimeMillis(),
                masked)
            .holding(held(channel, events)));
  }

  /**
   * The seqs a batch of the channel held when they are not its whole range (events of types the
   * grant does not subscribe to were passed over): a query by order must not name it for those
   * ({@link AuditRecord#heldSeqs}). Null, and not listed, when the batch is not recorded.
   */
  public String held(Channel channel, List<LoggedEvent> events) {
    if (log == AuditLog.DISABLED || channel.sandbox()) {
      return null;
    }
    return AuditRecord.held(i -> events.get(i).seq(), events.size());
  }

  /**
   * How one POST attempt of a callback batch ended.
   *
   * @param status the HTTP answer, 0 if there was none
   * @param error what went wrong when there was no answer (kept only then)
   * @param latencyMs from sending to the answer (or to giving up)
   * @param responseHead the first bytes of the answer's body
   */
  public record Answer(
      String webhookId, int status, String error, int latencyMs, String responseHead) {}

  /**
   * One POST attempt of a callback batch ended.
   *
   * @param heldSeqs the batch's {@link #held} seqs
   */
  public void callback(
      Channel channel,
      URI url,
      long fromSeq,
      long toSeq,
      long sentAtMillis,
      Answer answer,
      boolean masked,
      String heldSeqs) {
    if (channel.sandbox()) {
      return;
    }
    log.record(
        AuditRecord.attempt(
                channel.appId(),
                channel.merchantId(),
                fromSeq,
                toSeq,
                url.toString(),
                sentAtMillis,
                masked,
                new AuditRecord.Outcome(
                    answer.status(),
                    answer.status() == 0 ? answer.error() : null,
                    answer.webhookId(),
                    answer.latencyMs(),
                    answer.status() == 0 ? null : answer.responseHead()))
            .holding(heldSeqs));
  }
}
