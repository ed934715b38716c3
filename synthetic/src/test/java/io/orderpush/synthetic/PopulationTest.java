package io.orderpush.synthetic;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PopulationTest {

  @Test
  void fullScaleHasTheDoubleElevenShape() {
    Population p = Population.doubleEleven(1.0, 1000, 11);

    assertThat(p.merchants()).hasSize(1044);
    assertThat(p.merchants().stream().filter(m -> m.tier().equals("giant")))
        .hasSize(2)
        .allMatch(m -> m.orders() == 1_000_000);
    assertThat(p.merchants().stream().filter(m -> m.tier().equals("large")))
        .hasSize(42)
        .allMatch(m -> m.orders() == 100_000);
    assertThat(p.merchants().stream().filter(m -> m.tier().equals("tail")))
        .hasSize(1000)
        .allMatch(m -> m.orders() == 1_000);
    assertThat(p.totalOrders()).isEqualTo(7_200_000);
    // created + (mostly) paid + shipped, sometimes refunded or closed: about 3 events per order
    assertThat(p.totalEvents()).isBetween(20_000_000L, 22_000_000L);
  }

  @Test
  void scaleShrinksOrdersButKeepsEveryMerchantWithAtLeastOneOrder() {
    Population p = Population.doubleEleven(0.0001, 10, 11);

    assertThat(p.merchants()).hasSize(54);
    assertThat(p.merchant("drill-g01").orders()).isEqualTo(100);
    assertThat(p.merchant("drill-l042").orders()).isEqualTo(10);
    assertThat(p.merchant("drill-t000010").orders()).isEqualTo(1);
    assertThat(p.merchant("drill-t000011")).isNull();
  }

  @Test
  void lifeCyclesStartWithCreatedEndWithATerminalStepAndFollowTheExpectedMix() {
    Population p = Population.doubleEleven(0.01, 100, 11);
    Map<Integer, Integer> byLength = new HashMap<>();
    int refunded = 0;
    int n = 0;
    for (Population.Merchant m : p.merchants()) {
      for (int o = 0; o < m.orders(); o++) {
        String[] cycle = p.lifecycle(m.index(), o);
        assertThat(cycle[0]).isEqualTo(Population.CREATED);
        assertThat(cycle[cycle.length - 1])
            .isIn(Population.CLOSED, Population.SHIPPED, Population.REFUNDED);
        byLength.merge(cycle.length, 1, Integer::sum);
        refunded += cycle[cycle.length - 1].equals(Population.REFUNDED) ? 1 : 0;
        n++;
      }
    }
    assertThat(byLength.get(2) / (double) n).isBetween(0.04, 0.06); // unpaid, closed
    assertThat(refunded / (double) n).isBetween(0.05, 0.085);
    assertThat(byLength.get(3) / (double) n).isBetween(0.85, 0.95);
    // the same inputs give the same life cycle: consumers rely on it
    assertThat(p.lifecycle(3, 7)).isEqualTo(Population.doubleEleven(0.01, 100, 11).lifecycle(3, 7));
  }

  @Test
  void orderIdsRoundTrip() {
    assertThat(Population.orderNo(Population.orderId("drill-g01", 123456))).isEqualTo(123456);
    assertThat(Population.orderNo("drill-g01-oX")).isEqualTo(-1);
    assertThat(Population.orderNo("nothing")).isEqualTo(-1);
  }

  @Test
  void refusesNonsenseScales() {
    assertThatThrownBy(() -> Population.doubleEleven(0, 10, 1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Population.doubleEleven(Double.NaN, 10, 1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Population.doubleEleven(1, -1, 1))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
