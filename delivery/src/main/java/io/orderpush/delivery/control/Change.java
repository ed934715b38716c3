package io.orderpush.delivery.control;

import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * A change to an app or one of its grants that every gateway node must follow. It only names what
 * changed: a node that receives it reads the current state from PostgreSQL, so notices that arrive
 * twice, late or out of order do no harm.
 *
 * @param merchantId the merchant, for grant changes
 */
public record Change(Kind kind, UUID appId, Optional<String> merchantId) {

  /** What changed. */
  public enum Kind {
    CREATED,
    FROZEN,
    UNFROZEN,
    DELETED,
    TOKEN_ROTATED,
    SECRET_ROTATED,
    /** A grant was made, or its scopes or event types changed. */
    GRANTED,
    REVOKED,
    ENDPOINT_SUSPENDED,
    ENDPOINT_RESUMED,
    /** An operator asked the endpoint to send its waiting batches now. */
    ENDPOINT_RETRY,
    /**
     * The app set a channel's cursor ({@code PUT /v1/channels/{merchantId}/cursor}): the node that
     * delivers the channel starts it again from the stored cursor.
     */
    CURSOR_SET,
    /** Something about the app changed, unknown what (the periodic reconcile found it). */
    RESYNC
  }

  public Change {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(appId, "appId");
    Objects.requireNonNull(merchantId, "merchantId");
  }

  public static Change of(Kind kind, UUID appId) {
    return new Change(kind, appId, Optional.empty());
  }

  public static Change ofGrant(Kind kind, UUID appId, String merchantId) {
    return new Change(kind, appId, Optional.of(merchantId));
  }
}
