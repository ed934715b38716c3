package io.orderpush.persistence.audit;

import io.orderpush.persistence.events.EventLog;
import java.time.Instant;
import java.util.UUID;

/**
 * What an audit query asks for; null members do not filter. At least a merchant or an app is named
 * (the API checks it).
 *
 * @param order only batches holding one of these events (an order's); null: any
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
    EventLog.OrderEvents order,
    Instant from,
    Instant to,
    Transport transport,
    String statusClass,
    AuditStore.Cursor after,
    int limit) {}
