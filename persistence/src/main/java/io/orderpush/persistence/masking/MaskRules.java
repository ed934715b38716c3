package io.orderpush.persistence.masking;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Which members of an event's {@code data} are personal data, and the mask of each: an immutable,
 * validated list of paths. A path is member names joined by dots ({@code buyer.phone}); an array on
 * the way is looked into element by element ({@code receivers.phone} covers the phone of every
 * receiver); {@code :kind} names the mask ({@code contact.value:phone}), otherwise the last member
 * tells it (see {@link MaskKind#forMember}).
 *
 * <p>The {@link #fingerprint()} identifies the list and the masks' version: stored masked
 * renderings made under another fingerprint are not trusted (see {@code EventLog}).
 */
public final class MaskRules {

  /** Buyer and receiver contact data and the shipping address (PRODUCT.md, guarantee 6). */
  public static final String DEFAULT_PATHS =
      "buyer.name,buyer.nick,buyer.phone,buyer.mobile,buyer.email,buyer.address,"
          + "receiver.name,receiver.nick,receiver.phone,receiver.mobile,receiver.email,"
          + "receiver.address,address";

  static final int MAX_PATHS = 200;
  static final int MAX_DEPTH = 16;

  /** Bumped whenever a mask changes what it produces, so older stored renderings are redone. */
  static final String MASKS_VERSION = "m1";

  // No control characters either: the stored JSON escapes them in member names, so a listed name
  // holding one would not be found as written (Masker's shortcut looks for the name as is).
  private static final Pattern MEMBER = Pattern.compile("[^.,:\"\\\\\\s\\p{Cntrl}]{1,128}");

  /** One listed path and its mask. */
  public record Rule(List<String> path, MaskKind kind) {
    @Override
    public String toString() {
      return String.join(".", path) + ":" + kind.word();
    }
  }

  /** A step of the path tree: the children by member name, and the kind if a path ends here. */
  static final class Node {
    final Map<String, Node> children = new HashMap<>();
    MaskKind kind;
  }

  private final List<Rule> rules;
  private final Node root = new Node();
  private final String canonical;
  private final String fingerprint;

  private MaskRules(List<Rule> rules) {
    this.rules = List.copyOf(rules);
    List<String> sorted = new ArrayList<>();
    for (Rule r : rules) {
      Node n = root;
      for (String member : r.path()) {
        n = n.children.computeIfAbsent(member, m -> new Node());
      }
      n.kind = r.kind();
      sorted.add(r.toString());
    }
    Collections.sort(sorted);
    this.canonical = String.join(",", sorted);
    this.fingerprint =
        MASKS_VERSION + "-" + sha256(MASKS_VERSION + ";" + canonical).substring(0, 16);
  }

  public static MaskRules defaults() {
    return parse(DEFAULT_PATHS);
  }

  /**
   * Parses a comma-separated path list; {@link IllegalArgumentException} names the first bad entry.
   */
  public static MaskRules parse(String list) {
    List<Rule> rules = new ArrayList<>();
    List<String> seen = new ArrayList<>();
    for (String raw : list.split(",", -1)) {
      String entry = raw.trim();
      if (entry.isEmpty()) {
        if (list.isBlank()) {
          break;
        }
        throw new IllegalArgumentException("empty path in the list");
      }
      String pathText = entry;
      MaskKind kind = null;
      int colon = entry.lastIndexOf(':');
      if (colon >= 0) {
        pathText = entry.substring(0, colon);
        kind = MaskKind.named(entry.substring(colon + 1));
        if (kind == null) {
          throw new IllegalArgumentException(
              "'" + entry + "': the mask after ':' must be phone, name, address, email or full");
        }
      }
      List<String> path = List.of(pathText.split("\\.", -1));
      if (path.size() > MAX_DEPTH) {
        throw new IllegalArgumentException(
            "'" + entry + "' has " + path.size() + " members, at most " + MAX_DEPTH);
      }
      for (String member : path) {
        if (!MEMBER.matcher(member).matches()) {
          throw new IllegalArgumentException(
              "'"
                  + entry
                  + "' must be member names joined by '.', each 1 to 128 characters other than"
                  + " '.', ',', ':', quotes, backslashes, spaces and control characters");
        }
      }
      if (seen.contains(pathText)) {
        throw new IllegalArgumentException("'" + pathText + "' is listed twice");
      }
      seen.add(pathText);
      rules.add(
          new Rule(path, kind != null ? kind : MaskKind.forMember(path.get(path.size() - 1))));
    }
    if (rules.isEmpty()) {
      throw new IllegalArgumentException("must list at least one path");
    }
    if (rules.size() > MAX_PATHS) {
      throw new IllegalArgumentException("lists " + rules.size() + " paths, at most " + MAX_PATHS);
    }
    return new MaskRules(rules);
  }

  public List<Rule> rules() {
    return rules;
  }

  Node root() {
    return root;
  }

  /** The list in one normal form: sorted {@code path:kind} entries. */
  public String canonical() {
    return canonical;
  }

  /** Short identifier of {@link #canonical()} and the masks' version, stored with each chunk. */
  public String fingerprint() {
    return fingerprint;
  }

  @Override
  public String toString() {
    return canonical;
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
