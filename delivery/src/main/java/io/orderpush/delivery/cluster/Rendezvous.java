package io.orderpush.delivery.cluster;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Rendezvous (highest-random-weight) hashing: every node computes the same owner of a channel from
 * the same member list, with no coordination. The weight hashes (app, merchant, member) with a
 * fixed function (never {@link Object#hashCode}), so it is the same in every JVM.
 */
public final class Rendezvous {

  private Rendezvous() {}

  /** The member with the highest weight for the channel, or null if there is none. */
  public static String owner(UUID appId, String merchantId, Collection<String> members) {
    String best = null;
    long bestWeight = 0;
    long channel = channel(appId.toString(), merchantId);
    for (String m : members) {
      long w = weight(channel, m);
      if (best == null
          || Long.compareUnsigned(w, bestWeight) > 0
          || (w == bestWeight && m.compareTo(best) < 0)) {
        best = m;
        bestWeight = w;
      }
    }
    return best;
  }

  /**
   * A balanced assignment: every member gets floor(n/k) or ceil(n/k) channels (the first n mod k
   * members in sorted order get one more). Channels are taken in sorted order, each by the
   * highest-weight member that still has room, so most channels stay put when a member comes or
   * goes. The same inputs give the same answer on every node.
   */
  public static Map<String, String> balanced(
      UUID appId, Collection<String> merchants, Collection<String> members) {
    Map<String, String> out = new HashMap<>();
    if (members.isEmpty()) {
      return out;
    }
    List<String> ms = new ArrayList<>(members);
    ms.sort(null);
    List<String> cs = new ArrayList<>(merchants);
    cs.sort(null);
    int n = cs.size();
    int k = ms.size();
    int[] room = new int[k];
    for (int i = 0; i < k; i++) {
      room[i] = n / k + (i < n % k ? 1 : 0);
    }
    // n * k weights: the app's and each channel's part of the hash are computed once
    String app = appId.toString();
    for (String c : cs) {
      int best = -1;
      long bestWeight = 0;
      long channel = channel(app, c);
      for (int i = 0; i < k; i++) {
        if (room[i] > 0) {
          long w = weight(channel, ms.get(i));
          if (best < 0 || Long.compareUnsigned(w, bestWeight) > 0) {
            best = i;
            bestWeight = w;
          }
        }
      }
      room[best]--;
      out.put(c, ms.get(best));
    }
    return out;
  }

  /**
   * FNV-1a over the three strings, finished with SplitMix64's mixer. Every node must compute the
   * same value, whatever its version: never change it (RendezvousTest pins it).
   */
  static long weight(UUID appId, String merchantId, String member) {
    return weight(channel(appId.toString(), merchantId), member);
  }

  /** The hash's state after the app and the merchant: the part shared by every member. */
  private static long channel(String appId, String merchantId) {
    return mix(mix(0xcbf29ce484222325L, appId), merchantId);
  }

  private static long weight(long channel, String member) {
    long h = mix(channel, member);
    h ^= h >>> 30;
    h *= 0xbf58476d1ce4e5b9L;
    h ^= h >>> 27;
    h *= 0x94d049bb133111ebL;
    h ^= h >>> 31;
    return h;
  }

  private static long mix(long h, String s) {
    for (int i = 0; i < s.length(); i++) {
      h ^= s.charAt(i);
      h *= 0x100000001b3L;
    }
    h ^= 0xff; // separator: ("ab","c") and ("a","bc") differ
    h *= 0x100000001b3L;
    return h;
  }
}
