package io.orderpush.gateway.config;

import io.orderpush.persistence.audit.AuditWriter;

/**
 * The audit trail.
 *
 * @param enabled whether batches that leave the gateway are recorded (the query API answers either
 *     way)
 * @param retentionDays days of audit records kept (whole day partitions are dropped)
 * @param writer the writer's buffer, group size and flush interval
 */
public record AuditConfig(boolean enabled, int retentionDays, AuditWriter.Settings writer) {}
