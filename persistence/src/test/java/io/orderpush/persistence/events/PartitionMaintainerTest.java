package io.orderpush.persistence.events;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.Test;

class PartitionMaintainerTest {

  static final List<String> TABLES = PartitionMaintainer.TABLES;

  @Test
  void shouldNameKeysPartitionsByTheirWeeksMondayAndChunksPartitionsByDay() {
    LocalDate wednesday = LocalDate.of(2026, 12, 2);
    assertThat(PartitionMaintainer.weekOf(wednesday)).isEqualTo(LocalDate.of(2026, 11, 30));
    assertThat(PartitionMaintainer.weekOf(LocalDate.of(2026, 11, 30)))
        .isEqualTo(LocalDate.of(2026, 11, 30));
    assertThat(PartitionMaintainer.weekOf(LocalDate.of(2026, 12, 6)))
        .isEqualTo(LocalDate.of(2026, 11, 30));
    assertThat(PartitionMaintainer.createPartition("event_keys", LocalDate.of(2026, 11, 30), 7))
        .isEqualTo(
            "CREATE TABLE IF NOT EXISTS event_keys_w20261130 PARTITION OF event_keys FOR VALUES"
                + " FROM ('2026-11-30 00:00:00+00') TO ('2026-12-07 00:00:00+00')"
                + " WITH (autovacuum_vacuum_insert_threshold=-1,"
                + " autovacuum_analyze_threshold=2147483647)");
    assertThat(PartitionMaintainer.createPartition("event_chunks", wednesday))
        .isEqualTo(
            "CREATE TABLE IF NOT EXISTS event_chunks_20261202 PARTITION OF event_chunks FOR VALUES"
                + " FROM ('2026-12-02 00:00:00+00') TO ('2026-12-03 00:00:00+00')"
                + " WITH (autovacuum_vacuum_insert_threshold=-1,"
                + " autovacuum_analyze_threshold=2147483647)");
  }

  @Test
  void shouldEndAWeekPartitionSevenDaysAfterItsMondayAndADayPartitionTheNextDay() {
    assertThat(PartitionMaintainer.rangeOf(TABLES, "event_keys", "event_keys_w20261130"))
        .containsExactly(LocalDate.of(2026, 11, 30), LocalDate.of(2026, 12, 7));
    assertThat(PartitionMaintainer.rangeOf(TABLES, "event_keys", "event_keys_20261201")[1])
        .isEqualTo(LocalDate.of(2026, 12, 2));
    assertThat(PartitionMaintainer.rangeOf(TABLES, "event_chunks", "event_chunks_20261201")[1])
        .isEqualTo(LocalDate.of(2026, 12, 2));
  }

  @Test
  void shouldRecognizeNothingButItsOwnNames() {
    // chunks are never partitioned by week; a week starts on a Monday
    assertThat(PartitionMaintainer.rangeOf(TABLES, "event_chunks", "event_chunks_w20261130"))
        .isNull();
    assertThat(PartitionMaintainer.rangeOf(TABLES, "event_keys", "event_keys_w20261201")).isNull();
    assertThat(PartitionMaintainer.rangeOf(TABLES, "event_keys", "event_keys_2026120")).isNull();
    assertThat(PartitionMaintainer.rangeOf(TABLES, "event_keys", "event_keys_20261301")).isNull();
    assertThat(PartitionMaintainer.rangeOf(TABLES, "event_keys", "event_keys_w20261130_old"))
        .isNull();
    assertThat(PartitionMaintainer.rangeOf(TABLES, "audit_batches", "audit_batches_20261201"))
        .isNull();
    assertThat(PartitionMaintainer.rangeOf(TABLES, "event_keys", "event_chunks_20261201")).isNull();
  }

  @Test
  void shouldCountTheDaysAheadCoveredWithoutAGap() {
    LocalDate today = LocalDate.of(2026, 12, 5); // a Saturday
    LocalDate[] thisWeek = {LocalDate.of(2026, 11, 30), LocalDate.of(2026, 12, 7)};
    LocalDate[] nextWeek = {LocalDate.of(2026, 12, 7), LocalDate.of(2026, 12, 14)};
    LocalDate[] today1 = {today, today.plusDays(1)};
    LocalDate[] dayAfterTomorrow = {today.plusDays(2), today.plusDays(3)};
    assertThat(PartitionMaintainer.daysAhead(List.of(), today)).isEqualTo(-1);
    assertThat(PartitionMaintainer.daysAhead(List.<LocalDate[]>of(today1), today)).isZero();
    assertThat(PartitionMaintainer.daysAhead(List.of(today1, dayAfterTomorrow), today)).isZero();
    assertThat(PartitionMaintainer.daysAhead(List.<LocalDate[]>of(thisWeek), today)).isEqualTo(1);
    assertThat(PartitionMaintainer.daysAhead(List.of(nextWeek, thisWeek), today)).isEqualTo(8);
    assertThat(PartitionMaintainer.daysAhead(List.<LocalDate[]>of(nextWeek), today)).isEqualTo(-1);
  }
}
