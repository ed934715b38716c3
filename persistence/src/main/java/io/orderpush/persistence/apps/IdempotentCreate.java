package io.orderpush.persistence.apps;

import java.util.Optional;

/**
 * The outcome of a create under an idempotency key: a new app with its credentials, or the app an
 * earlier request with the same key made ({@code sameRequest} false if that request differed).
 */
public record IdempotentCreate(App app, Optional<CreatedApp> created, boolean sameRequest) {

  static IdempotentCreate created(CreatedApp created) {
    return new IdempotentCreate(created.app(), Optional.of(created), true);
  }

  static IdempotentCreate existing(App app, boolean sameRequest) {
    return new IdempotentCreate(app, Optional.empty(), sameRequest);
  }
}
