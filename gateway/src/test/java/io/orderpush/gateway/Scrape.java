package io.orderpush.gateway;

/** Reads one sample from a gateway's {@code /metrics}; a missing series fails the test. */
public final class Scrape {

  private Scrape() {}

  /**
   * The value of the first sample whose line starts with {@code series} (a name, or a name with the
   * start of its labels, e.g. {@code gateway_callback_endpoints{state="active"}}).
   */
  public static double value(TestGateway gw, String series) {
    String text = gw.send("GET", "/metrics", null, null).body();
    for (String line : text.split("\n")) {
      if (!line.startsWith("#")
          && (line.startsWith(series + " ")
              || line.startsWith(series + "{")
              || series.endsWith("}")
                  && line.startsWith(series.substring(0, series.length() - 1)))) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    throw new AssertionError("no series " + series + " in /metrics");
  }
}
