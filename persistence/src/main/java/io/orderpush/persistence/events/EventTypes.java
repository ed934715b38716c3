package io.orderpush.persistence.events;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * An app's event-type subscription, as its grant names it: exact types ({@code order.paid}) and
 * prefixes ({@code order.refund*}, a trailing {@code *} matching any suffix). {@link #ALL}, the
 * subscription of a grant that names none, includes every type. Immutable and thread-safe.
 */
public final class EventTypes {

  /** Patterns a grant may name. */
  public static final int MAX_PATTERNS = 32;

  /** An event type as ingest accepts it, optionally followed by {@code *}. */
  private static final Pattern PATTERN =
      Pattern.compile("[A-Za-z0-9._-]{0,64}\\*|[A-Za-z0-9._-]{1,64}");

  public static final EventTypes ALL = new EventTypes(List.of(), Set.of(), new String[0], true);

  private final List<String> patterns;
  private final Set<String> exact;
  private final String[] prefixes;
  private final boolean all;

  private EventTypes(List<String> patterns, Set<String> exact, String[] prefixes, boolean all) {
    this.patterns = patterns;
    this.exact = exact;
    this.prefixes = prefixes;
    this.all = all;
  }

  /**
   * The subscription of {@code patterns} (repeats dropped, order kept); empty, or one that holds
   * {@code *}, includes every type.
   *
   * @throws IllegalArgumentException naming the first bad pattern, or the count past {@link
   *     #MAX_PATTERNS}
   */
  public static EventTypes of(List<String> patterns) {
    if (patterns.size() > MAX_PATTERNS) {
      throw new IllegalArgumentException(
          "at most " + MAX_PATTERNS + " event types, got " + patterns.size());
    }
    List<String> kept = new ArrayList<>(patterns.size());
    Set<String> exact = new HashSet<>();
    List<String> prefixes = new ArrayList<>();
    boolean all = patterns.isEmpty();
    for (String p : patterns) {
      if (p == null || !PATTERN.matcher(p).matches()) {
        throw new IllegalArgumentException(
            "event type "
                + (p == null ? "null" : "\"" + p + "\"")
                + " must be 1 to 64 of [A-Za-z0-9._-], optionally followed by * (a prefix)");
      }
      if (kept.contains(p)) {
        continue;
      }
      kept.add(p);
      if (p.endsWith("*")) {
        String prefix = p.substring(0, p.length() - 1);
        all |= prefix.isEmpty();
        prefixes.add(prefix);
      } else {
        exact.add(p);
      }
    }
    return new EventTypes(
        List.copyOf(kept), Set.copyOf(exact), prefixes.toArray(String[]::new), all);
  }

  /** Whether this subscription lets every type through (no filtering at all). */
  public boolean all() {
    return all;
  }

  /** The patterns as the grant names them; empty for {@link #ALL}. */
  public List<String> patterns() {
    return patterns;
  }

  public boolean includes(String type) {
    if (all) {
      return true;
    }
    if (type == null) {
      return false;
    }
    if (exact.contains(type)) {
      return true;
    }
    for (String prefix : prefixes) {
      if (type.startsWith(prefix)) {
        return true;
      }
    }
    return false;
  }

  /** Whether the event is one this subscription includes (read from its stored line). */
  public boolean includes(LoggedEvent e) {
    return all || includes(e.type());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EventTypes t && t.patterns.equals(patterns) && t.all == all;
  }

  @Override
  public int hashCode() {
    return patterns.hashCode();
  }

  @Override
  public String toString() {
    return all ? "*" : String.join(",", patterns);
  }
}
