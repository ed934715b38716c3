package io.orderpush.persistence.events;

import java.time.Instant;
import java.time.YearMonth;

/**
 * Instants written as {@link Instant#toString} writes them ({@code 2026-11-11T00:00:01.250Z}: UTC,
 * a fraction of 3, 6 or 9 digits only as needed), recognised and read by hand. Most producers send
 * {@code occurredAt} in that form, and every stored line's {@code ingestedAt} is in it; parsing
 * them with {@code java.time}'s formatters cost several percent of the gateway's time under load.
 */
public final class Instants {

  private Instants() {}

  /**
   * Whether {@code s} is a valid instant exactly as {@link Instant#toString} writes it, for years
   * 1000-9999. False never means invalid: other forms (an offset, other fraction lengths) go the
   * parsing way.
   */
  public static boolean isCanonicalUtc(String s) {
    return epochMillis(s) != Long.MIN_VALUE;
  }

  /**
   * The epoch milliseconds of {@code s} if {@link #isCanonicalUtc}, else {@link Long#MIN_VALUE}.
   */
  public static long epochMillis(String s) {
    int n = s.length();
    if ((n != 20 && n != 24 && n != 27 && n != 30)
        || s.charAt(4) != '-'
        || s.charAt(7) != '-'
        || s.charAt(10) != 'T'
        || s.charAt(13) != ':'
        || s.charAt(16) != ':'
        || s.charAt(n - 1) != 'Z'
        || (n > 20 && s.charAt(19) != '.')) {
      return Long.MIN_VALUE;
    }
    int year = digits(s, 0, 4);
    int month = digits(s, 5, 7);
    int day = digits(s, 8, 10);
    int hour = digits(s, 11, 13);
    int minute = digits(s, 14, 16);
    int second = digits(s, 17, 19);
    if (year < 1000
        || month < 1
        || month > 12
        || day < 1
        || day > YearMonth.of(year, month).lengthOfMonth()
        || hour < 0
        || hour > 23
        || minute < 0
        || minute > 59
        || second < 0
        || second > 59) {
      return Long.MIN_VALUE;
    }
    int millis = 0;
    if (n > 20) {
      // the fraction's digits, and its last three not all zero: Instant.toString writes the
      // shortest of 3, 6 or 9 digits that holds the value, and no fraction for zero
      if (digits(s, 20, n - 1) < 0 || digits(s, n - 4, n - 1) == 0) {
        return Long.MIN_VALUE;
      }
      millis = digits(s, 20, 23);
    }
    long days = java.time.LocalDate.of(year, month, day).toEpochDay();
    return ((days * 24 + hour) * 60 + minute) * 60_000L + second * 1000L + millis;
  }

  /** The decimal value of {@code s[from, to)}, or -1 if any of it is not an ASCII digit. */
  private static int digits(String s, int from, int to) {
    int v = 0;
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }
}
