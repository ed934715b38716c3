package io.orderpush.gateway.ops;

import io.orderpush.gateway.config.GatewayConfig;
import io.orderpush.persistence.apps.SecretCipher;
import io.orderpush.persistence.apps.SecretResealer;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.pg.SchemaMigrations;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.io.PrintStream;
import java.util.concurrent.TimeUnit;

/**
 * {@code java -jar gateway.jar reseal}: re-seals every webhook secret in the configured database
 * under {@code secret.key}, opening them with it or with {@code secret.keys-old}. Runs beside
 * serving gateways (each row is replaced only if unchanged since read); the database work is
 * asynchronous on Vert.x, and only this command's main thread waits for the result.
 */
public final class ResealCommand {

  private ResealCommand() {}

  /** Exit status: 0 when every secret is under the current key, 1 when some could not be opened. */
  public static int run(GatewayConfig config, PrintStream out) {
    SchemaMigrations.apply(config.pg());
    SecretCipher cipher =
        new SecretCipher(config.security().secretKey(), config.security().secretOpeningKeys());
    Vertx vertx = Vertx.vertx();
    Pool pool = PgPools.create(vertx, config.pg(), "reseal", 2, 16);
    try {
      SecretResealer.Result r =
          new SecretResealer(pool, cipher)
              .resealAll()
              .toCompletionStage()
              .toCompletableFuture()
              .orTimeout(1, TimeUnit.HOURS)
              .join();
      out.printf(
          "reseal: %d apps examined, %d re-sealed under key %s, %d expired previous secrets"
              + " dropped, %d unreadable%n",
          r.examined(), r.resealed(), r.keyId(), r.droppedExpired(), r.unreadable().size());
      if (!r.unreadable().isEmpty()) {
        out.println(
            "reseal: no configured key opens the secrets of these apps (left unchanged): "
                + r.unreadable());
        return 1;
      }
      return 0;
    } finally {
      // Each from this plain thread: a callback on an event loop must not wait for Vert.x to close.
      pool.close().toCompletionStage().toCompletableFuture().join();
      vertx.close().toCompletionStage().toCompletableFuture().join();
    }
  }
}
