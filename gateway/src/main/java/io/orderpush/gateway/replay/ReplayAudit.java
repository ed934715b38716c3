package io.orderpush.gateway.replay;

import io.orderpush.persistence.audit.AuditLog;
import io.orderpush.persistence.audit.AuditRecord;
import io.orderpush.persistence.audit.Transport;
import java.util.UUID;

/**
 * The audit record of one replay response: the seq range actually streamed, recorded once when the
 * response ends or is cut. A response that streamed nothing sent nothing and is not recorded.
 * Touched from the response's context only.
 */
final class ReplayAudit {

  /** The response header that names the request, as its audit records do ({@code via}). */
  static final String HEADER = "X-Request-Id";

  final String requestId = UUID.randomUUID().toString();
  private final AuditLog log;
  private final UUID appId;
  private final String merchantId;
  private final long startedAt = System.currentTimeMillis();
  private long first;
  private long last;
  private boolean recorded;

  ReplayAudit(AuditLog log, UUID appId, String merchantId) {
    this.log = log;
    this.appId = appId;
    this.merchantId = merchantId;
  }

  /** Whether the replay's events leave with personal data masked. */
  private boolean masked() {
    return false; // wired to the grant's pii scope when masking lands
  }

  /** Events {@code from..to} were written to the response. */
  void streamed(long from, long to) {
    if (first == 0) {
      first = from;
    }
    last = to;
  }

  /** The response ended, completely or cut short. */
  void ended() {
    if (!recorded && first != 0) {
      recorded = true;
      log.record(
          AuditRecord.sent(
              appId, merchantId, first, last, Transport.REPLAY, requestId, startedAt, masked()));
    }
  }
}
