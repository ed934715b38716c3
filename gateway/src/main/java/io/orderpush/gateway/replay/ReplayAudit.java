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

  /** The request's id (its {@code X-Request-Id}), the record's {@code via}. */
  final String requestId;

  private final AuditLog log;
  private final UUID appId;
  private final String merchantId;
  private final long startedAt = System.currentTimeMillis();
  private long first;
  private long last;
  private boolean recorded;

  /** Whether any page left unmasked (the grant carried pii then). */
  private boolean raw;

  ReplayAudit(AuditLog log, UUID appId, String merchantId, String requestId) {
    this.requestId = requestId;
    this.log = log;
    this.appId = appId;
    this.merchantId = merchantId;
  }

  /**
   * Whether the replay's events left with personal data masked: only if every page did (a grant
   * that gained pii mid-replay sent some raw).
   */
  private boolean masked() {
    return !raw;
  }

  /** Events {@code from..to} were written to the response, masked or not. */
  void streamed(long from, long to, boolean masked) {
    raw |= !masked;
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
