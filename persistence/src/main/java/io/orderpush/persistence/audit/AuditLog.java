package io.orderpush.persistence.audit;

/**
 * Where the gateway records every batch that leaves it. Recording never blocks and never fails the
 * caller: it is called on the delivery path, from any thread.
 */
public interface AuditLog {

  /** Auditing turned off ({@code audit.enabled=false}): records nothing. */
  AuditLog DISABLED = r -> {};

  void record(AuditRecord r);

  /**
   * Whether more batches may leave now: false while the records waiting to be written reach the
   * log's high-water mark (PostgreSQL down or slower than delivery). Delivery and replay wait while
   * it is false, so a batch leaves only when its record can be kept; what reads already in flight
   * record lands in the room above the mark.
   */
  default boolean admitting() {
    return true;
  }
}
