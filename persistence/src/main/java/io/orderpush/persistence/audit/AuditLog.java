package io.orderpush.persistence.audit;

/**
 * Where the gateway records every batch that leaves it. Recording never blocks and never fails the
 * caller: it is called on the delivery path, from any thread.
 */
public interface AuditLog {

  /** Auditing turned off ({@code audit.enabled=false}): records nothing. */
  AuditLog DISABLED = r -> {};

  void record(AuditRecord r);
}
