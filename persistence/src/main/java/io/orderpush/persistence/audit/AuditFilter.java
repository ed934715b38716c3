package io.orderpush.persistence.audit;

import java.time.Instant;
import java.util.UUID;

/**
 * What an audit query asks for; null members do not filter. At least a merchant or an app is named
 * (the API checks it).
 *
 * @param seqs only batches holding one of these seqs of the merchant (an order's events); null: any
 * @param from deliveries at or after; {@code to}: before
 * @param after the cursor of the previous page ({@link AuditStore#cursor})
 * @param transport only batches of this transport
 * @param statusClass only callback attempts answered {@code 2xx}..{@code 5xx}, or {@code none} (no
 *     answer)
 * @param limit items per page
 */
public record AuditFilter(
    String merchantId,
    UUID appId,
    long[] seqs,
    Instant from,
    Instant to,
    Transport transport,
    String statusClass,
    AuditStore.Cursor after,
    int limit) {}
