package io.orderpush.drill;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SamplerTest {

  @Test
  void sumsTheMatchingSamplesOfAMetric() {
    String text =
        """
        # HELP gateway_ingest_events_total events
        # TYPE gateway_ingest_events_total counter
        gateway_ingest_events_total{result="duplicate"} 3.0
        gateway_ingest_events_total{result="stored"} 1234.0
        gateway_ingest_events_total_other{result="stored"} 99.0
        jvm_memory_used_bytes{area="heap",id="eden"} 100.0
        jvm_memory_used_bytes{area="heap",id="old"} 50.0
        jvm_memory_used_bytes{area="nonheap",id="code"} 7.0
        process_cpu_usage 0.25
        """;

    assertThat(Sampler.metric(text, "gateway_ingest_events_total", "result=\"stored\""))
        .isEqualTo(1234.0);
    assertThat(Sampler.metric(text, "jvm_memory_used_bytes", "area=\"heap\"")).isEqualTo(150.0);
    assertThat(Sampler.metric(text, "process_cpu_usage", "")).isEqualTo(0.25);
    assertThat(Sampler.metric(text, "missing", "")).isZero();
  }
}
