package io.orderpush.gateway.testing;

import java.nio.charset.StandardCharsets;

/** What the kernel says about the test's sockets. */
public final class Sockets {

  private Sockets() {}

  /** Whether the kernel holds an established connection from the gateway's port to the client's. */
  public static boolean established(int serverPort, int clientPort) {
    try {
      Process ss =
          new ProcessBuilder(
                  "ss",
                  "-Htn",
                  "state",
                  "established",
                  "( sport = :" + serverPort + " and dport = :" + clientPort + " )")
              .redirectErrorStream(true)
              .start();
      String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      ss.waitFor();
      return !out.isBlank();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
