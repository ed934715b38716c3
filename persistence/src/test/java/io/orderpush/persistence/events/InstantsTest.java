package io.orderpush.persistence.events;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The hand check of {@code occurredAt} agrees with parsing and printing it, every time it says yes.
 */
class InstantsTest {

  /** What ingest stored before the hand check: parsed with its offset, printed as UTC. */
  static String slow(String s) {
    try {
      return OffsetDateTime.parse(s).toInstant().toString();
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  @Test
  void shouldAcceptEveryInstantAsInstantPrintsIt() {
    Random r = new Random(7);
    long min = Instant.parse("1000-01-01T00:00:00Z").getEpochSecond();
    long max = Instant.parse("9999-12-31T23:59:59Z").getEpochSecond();
    for (int i = 0; i < 100_000; i++) {
      long second = min + (long) (r.nextDouble() * (max - min));
      int nanos =
          switch (i % 4) {
            case 0 -> 0;
            case 1 -> r.nextInt(1000) * 1_000_000;
            case 2 -> r.nextInt(1_000_000) * 1000;
            default -> r.nextInt(1_000_000_000);
          };
      String s = Instant.ofEpochSecond(second, nanos).toString();
      assertThat(Instants.isCanonicalUtc(s)).as(s).isTrue();
      assertThat(slow(s)).isEqualTo(s);
      assertThat(Instants.epochMillis(s)).as(s).isEqualTo(Instant.parse(s).toEpochMilli());
    }
  }

  @Test
  void shouldSayYesOnlyWhereParsingGivesTheSameString() {
    String[] refused = {
      "2026-11-11T08:00:01.250+08:00", // an offset
      "2026-11-11T00:00:01.000Z", // a zero fraction is not written
      "2026-11-11T00:00:01.250000Z", // 3 digits hold it
      "2026-11-11T00:00:01.250500000Z", // 6 digits hold it
      "2026-02-29T00:00:00Z", // not a leap year
      "2026-04-31T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-00-01T00:00:00Z",
      "2026-11-11T24:00:00Z",
      "2026-11-11T23:60:00Z",
      "2026-11-11T23:59:60Z",
      "0999-11-11T00:00:00Z",
      "2026-11-11 00:00:00Z",
      "2026-11-11T00:00:0xZ",
      "2026-11-11T00:00:00.25Z",
      "2026-1-11T00:00:00.25Z",
      "+2026-11-11T00:00:0Z",
      "",
    };
    for (String s : refused) {
      assertThat(Instants.isCanonicalUtc(s)).as(s).isFalse();
      assertThat(Instants.epochMillis(s)).as(s).isEqualTo(Long.MIN_VALUE);
    }
    assertThat(Instants.isCanonicalUtc("2024-02-29T23:59:59.999999999Z")).isTrue();
    // random edits of canonical strings: a yes is always what the slow way gives
    Random r = new Random(11);
    String alphabet = "0123456789-:.TZ+ ";
    int yes = 0;
    for (int i = 0; i < 200_000; i++) {
      char[] c = "2024-02-29T23:59:59.250Z".toCharArray();
      int edits = 1 + r.nextInt(3);
      for (int e = 0; e < edits; e++) {
        c[r.nextInt(c.length)] = alphabet.charAt(r.nextInt(alphabet.length()));
      }
      String s = new String(c);
      if (Instants.isCanonicalUtc(s)) {
        yes++;
        assertThat(slow(s)).as(s).isEqualTo(s);
        assertThat(Instants.epochMillis(s)).as(s).isEqualTo(Instant.parse(s).toEpochMilli());
      }
    }
    assertThat(yes).as("the edits hit canonical strings too").isPositive();
  }
}
