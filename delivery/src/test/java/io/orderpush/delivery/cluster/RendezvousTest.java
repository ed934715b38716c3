package io.orderpush.delivery.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class RendezvousTest {

  static final UUID APP = UUID.fromString("0b6f2c1e-8a3d-4c55-9e21-3f0a7d9b1c42");

  static List<String> merchants(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add("m-" + i);
    }
    return out;
  }

  @Test
  void shouldGiveEveryNodeTheSameAnswerWhateverTheOrderItListsTheMembersIn() {
    List<String> members = new ArrayList<>(List.of("n1", "n2", "n3", "n4"));
    Map<String, String> first = new HashMap<>();
    merchants(1000).forEach(m -> first.put(m, Rendezvous.owner(APP, m, members)));
    Collections.shuffle(members, new Random(7));
    merchants(1000)
        .forEach(m -> assertThat(Rendezvous.owner(APP, m, members)).isEqualTo(first.get(m)));
    Map<String, String> balanced = Rendezvous.balanced(APP, merchants(1000), members);
    Collections.shuffle(members, new Random(8));
    List<String> shuffled = merchants(1000);
    Collections.shuffle(shuffled, new Random(9));
    assertThat(Rendezvous.balanced(APP, shuffled, members)).isEqualTo(balanced);
  }

  @Test
  void shouldComputeTheSameWeightsAndAssignmentAsEveryEarlierVersion() {
    // Nodes of different versions must agree on every owner during a rolling upgrade: these are
    // the values of the first version, before the hash's shared part was computed once per channel.
    assertThat(Long.toHexString(Rendezvous.weight(APP, "m-1", "n1"))).isEqualTo("5a81fd0917631b33");
    assertThat(Long.toHexString(Rendezvous.weight(APP, "merchant-42", "node-a/conn-7")))
        .isEqualTo("a1d72a78e4e59423");
    assertThat(Rendezvous.balanced(APP, merchants(6).subList(1, 6), List.of("c1", "c2")))
        .isEqualTo(Map.of("m-1", "c1", "m-2", "c1", "m-3", "c1", "m-4", "c2", "m-5", "c2"));
  }

  @Test
  void shouldMoveOnlyTheLeaversChannelsWhenANodeGoes() {
    List<String> four = List.of("n1", "n2", "n3", "n4");
    List<String> three = List.of("n1", "n2", "n4");
    int moved = 0;
    Map<String, Integer> shares = new HashMap<>();
    for (String m : merchants(10_000)) {
      String before = Rendezvous.owner(APP, m, four);
      String after = Rendezvous.owner(APP, m, three);
      shares.merge(before, 1, Integer::sum);
      if (!before.equals("n3")) {
        assertThat(after).as(m).isEqualTo(before);
      } else {
        moved++;
      }
    }
    assertThat(moved).isEqualTo(shares.get("n3"));
    // about a quarter each: fair in expectation
    shares.values().forEach(n -> assertThat(n).isBetween(2200, 2800));
  }

  @Test
  void shouldBalanceExactlyAndMoveFewChannelsWhenAMemberJoins() {
    List<String> ms = merchants(30);
    Map<String, String> three = Rendezvous.balanced(APP, ms, List.of("c1", "c2", "c3"));
    Map<String, Integer> sizes = new HashMap<>();
    three.values().forEach(c -> sizes.merge(c, 1, Integer::sum));
    assertThat(sizes)
        .containsOnlyKeys("c1", "c2", "c3")
        .allSatisfy((c, n) -> assertThat(n).isEqualTo(10));
    Map<String, String> four = Rendezvous.balanced(APP, ms, List.of("c1", "c2", "c3", "c4"));
    Map<String, Integer> after = new HashMap<>();
    four.values().forEach(c -> after.merge(c, 1, Integer::sum));
    assertThat(after.values()).allSatisfy(n -> assertThat(n).isBetween(7, 8));
    assertThat(four).hasSize(30);
    long moved = ms.stream().filter(m -> !three.get(m).equals(four.get(m))).count();
    assertThat(moved).as("channels that moved").isLessThan(15);
  }

  @Test
  void shouldAssignNothingWithoutMembers() {
    assertThat(Rendezvous.balanced(APP, merchants(3), List.of())).isEmpty();
    assertThat(Rendezvous.owner(APP, "m", List.of())).isNull();
  }
}
