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

  /**
   * The seqs streamed, comma-separated, while they are not every seq of first..last (event types
   * passed over) and no longer than {@link AuditRecord#MAX_HELD_CHARS}; null while they are every
   * seq, and for good once the list grew too long.
   */
  private StringBuilder held;

  private boolean tooLong;

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

  /** Whether any event was written to the response yet. */
  boolean streamedAny() {
    return first != 0;
  }

  /** {@code seqs}, ascending, were written to the response, masked or not. */
  void streamed(java.util.function.IntToLongFunction seqs, int n, boolean masked) {
    raw |= !masked;
    for (int i = 0; i < n; i++) {
      streamed(seqs.applyAsLong(i));
    }
  }

  private void streamed(long seq) {
    if (first == 0) {
      first = seq;
    } else if (held == null && !tooLong && seq != last + 1) {
      // the first seq passed over: list what came so far (first..last, all of them)
      held = new StringBuilder();
      for (long s = first; s <= last && !tooLong; s++) {
        list(s);
      }
    }
    if (held != null) {
      list(seq);
    }
    last = seq;
  }

  private void list(long seq) {
    held.append(seq).append(',');
    if (held.length() > AuditRecord.MAX_HELD_CHARS + 1) { // the last comma goes
      held = null; // too long to list: found by its range
      tooLong = true;
    }
  }

  /** The response ended, completely or cut short. */
  void ended() {
    if (!recorded && first != 0) {
      recorded = true;
      log.record(
          AuditRecord.sent(
                  appId, merchantId, first, last, Transport.REPLAY, requestId, startedAt, masked())
              .holding(held == null ? null : held.substring(0, held.length() - 1)));
    }
  }
}
