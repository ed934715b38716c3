package io.orderpush.gateway.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.testing.TcpProxy;
import io.orderpush.persistence.audit.AuditRecord;
import io.orderpush.persistence.audit.AuditStore;
import io.orderpush.persistence.audit.AuditWriter;
import io.orderpush.persistence.audit.Transport;
import io.orderpush.persistence.events.PartitionMaintainer;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.pg.PgSettings;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.net.URI;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The audit writer's bounds: while PostgreSQL does not answer, recording neither blocks nor grows
 * past the buffer (the rest is dropped and counted); when it answers again, what was kept is
 * written; at shutdown, what is buffered is written.
 */
class AuditBufferIT {

  final Vertx vertx = Vertx.vertx();
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  PgSettings pg;
  Pool direct;
  TcpProxy proxy;
  Pool viaProxy;

  @BeforeEach
  void setUp() {
    pg = TestServices.migratedPg();
    direct = PgPools.create(vertx, pg, "audit-test", 2, 16);
    AuditClients.join(new PartitionMaintainer(direct, 1, AuditStore.TABLES).ensurePartitions());
    proxy = TcpProxy.start(pg.host(), pg.port());
    URI url = pg.url();
    PgSettings proxied =
        new PgSettings(
            URI.create(
                url.getScheme()
                    + "://"
                    + url.getRawUserInfo()
                    + "@127.0.0.1:"
                    + proxy.port()
                    + url.getRawPath()),
            1,
            1,
            Duration.ofMillis(500),
            Duration.ofMillis(1000),
            Duration.ofMillis(2000));
    viaProxy = PgPools.create(vertx, proxied, "audit", 1, 4);
  }

  @AfterEach
  void tearDown() {
    proxy.close();
    AuditClients.join(vertx.close());
  }

  @Test
  void shouldDropAndCountPastTheBufferWhilePostgresIsSilentThenWriteWhatItKept() {
    AuditWriter writer = writer(100, 10, Duration.ofMillis(20));
    UUID app = UUID.randomUUID();
    proxy.blackhole();

    long started = System.nanoTime();
    for (int i = 1; i <= 150; i++) {
      writer.record(record(app, i));
    }
    Duration took = Duration.ofNanos(System.nanoTime() - started);
    assertThat(took).as("recording never waits for PostgreSQL").isLessThan(Duration.ofMillis(500));
    assertThat(writer.buffered()).isEqualTo(100);
    assertThat(dropped("buffer_full")).isEqualTo(50);
    Await.until(
        "a failed write counted",
        Duration.ofSeconds(15),
        () -> registry.get("gateway.audit.flush.failures").counter().count() >= 1);
    assertThat(batches(app)).isZero();

    proxy.forward();
    Await.until(
        "the 100 kept records written",
        Duration.ofSeconds(30),
        // the last group's rows can be read before the writer hears its commit and lets them go
        () -> batches(app) == 100 && writer.buffered() == 0,
        () -> batches(app) + " batches, " + writer.buffered() + " buffered");
    assertThat(registry.get("gateway.audit.rows.written").counter().count()).isEqualTo(100);
    assertThat(registry.get("gateway.audit.buffer.rows").gauge().value()).isZero();
    assertThat(dropped("buffer_full")).isEqualTo(50);
  }

  @Test
  void shouldWriteWhatIsBufferedWhenStopped() {
    AuditWriter writer = writer(1000, 100, Duration.ofMinutes(1));
    String deployment = AuditClients.join(vertx.deployVerticle(writer));
    UUID app = UUID.randomUUID();
    for (int i = 1; i <= 5; i++) {
      writer.record(record(app, i));
    }
    assertThat(batches(app)).as("nothing written before the (minute-long) interval").isZero();
    AuditClients.join(vertx.undeploy(deployment));
    assertThat(batches(app)).isEqualTo(5);
    assertThat(dropped("shutdown")).isZero();
  }

  /** A record of a day without a partition, 400 days ahead: PostgreSQL refuses its row (23514). */
  static AuditRecord refused(UUID app, int i) {
    return AuditRecord.sent(
        app,
        "m-buffer",
        1000 + i,
        1000 + i,
        Transport.WEBSOCKET,
        "conn",
        System.currentTimeMillis() + Duration.ofDays(400).toMillis(),
        false);
  }

  @Test
  void shouldDropOnlyTheRecordsPostgresRefusesAndWriteTheRestOfTheirGroup() {
    AuditWriter writer = writer(1000, 100, Duration.ofMillis(20));
    UUID app = UUID.randomUUID();
    for (int i = 1; i <= 50; i++) {
      writer.record(record(app, i));
      if (i % 20 == 0) {
        writer.record(refused(app, i));
      }
    }
    Await.until(
        "the 50 records PostgreSQL takes written",
        Duration.ofSeconds(30),
        () -> batches(app) == 50 && writer.buffered() == 0,
        () -> batches(app) + " written, " + writer.buffered() + " buffered");
    assertThat(dropped("rejected")).as("only the refused records").isEqualTo(2);
  }

  @Test
  void shouldWorkThroughAGroupOfManyRefusedRecordsWithoutWaitingForTheNextTick() {
    // 80 records fill a group at once; the next tick is a minute away
    AuditWriter writer = writer(1000, 80, Duration.ofSeconds(59));
    UUID app = UUID.randomUUID();
    for (int i = 1; i <= 40; i++) {
      writer.record(record(app, i));
      writer.record(refused(app, i));
    }
    Await.until(
        "the group split down to its refused records and written, before the next tick",
        Duration.ofSeconds(30),
        () -> writer.buffered() == 0,
        () -> batches(app) + " written, " + writer.buffered() + " buffered");
    assertThat(batches(app)).isEqualTo(40);
    assertThat(dropped("rejected")).isEqualTo(40);
  }

  AuditWriter writer(int bufferRows, int flushRows, Duration interval) {
    AuditWriter w =
        new AuditWriter(
            viaProxy,
            new AuditStore(),
            new AuditWriter.Settings(bufferRows, flushRows, interval, Duration.ofSeconds(5)),
            registry);
    if (interval.toMinutes() < 1) {
      AuditClients.join(vertx.deployVerticle(w));
    }
    return w;
  }

  static AuditRecord record(UUID app, long seq) {
    return AuditRecord.sent(
        app, "m-buffer", seq, seq, Transport.WEBSOCKET, "conn", System.currentTimeMillis(), false);
  }

  double dropped(String reason) {
    return registry.get("gateway.audit.rows.dropped").tag("reason", reason).counter().count();
  }

  long batches(UUID app) {
    return AuditClients.join(
            direct
                .preparedQuery(
                    "SELECT coalesce(sum(cardinality(sent_ms)), 0) FROM audit_batches WHERE app_id = $1")
                .execute(Tuple.of(app)))
        .iterator()
        .next()
        .getLong(0);
  }
}
