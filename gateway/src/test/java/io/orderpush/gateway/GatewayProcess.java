package io.orderpush.gateway;

import java.io.File;
import java.io.IOException;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** The gateway as a separate OS process, for tests that kill it. */
public final class GatewayProcess {

  public final int port;
  final Process process;

  private GatewayProcess(int port, Process process) {
    this.port = port;
    this.process = process;
  }

  public static GatewayProcess start(int port, String logName)
      throws IOException, InterruptedException {
    return start(port, logName, java.util.Map.of());
  }

  public static GatewayProcess start(int port, String logName, java.util.Map<String, String> env)
      throws IOException, InterruptedException {
    return start(port, logName, env, java.util.List.of());
  }

  /** With extra JVM options, e.g. {@code -Dlogback.configurationFile=logback.xml}. */
  public static GatewayProcess start(
      int port, String logName, java.util.Map<String, String> env, java.util.List<String> jvm)
      throws IOException, InterruptedException {
    java.util.List<String> command = new java.util.ArrayList<>();
    command.add(new File(System.getProperty("java.home"), "bin/java").getPath());
    command.add("-Xmx512m");
    command.addAll(jvm);
    command.addAll(
        java.util.List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().putAll(TestGateway.environment(port));
    pb.environment().putAll(env);
    File log = new File("target", logName);
    pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log));
    Process started = pb.start();
    // A test that dies without closing it must not leave a gateway running into later runs.
    Runtime.getRuntime().addShutdownHook(new Thread(started::destroyForcibly));
    GatewayProcess gp = new GatewayProcess(port, started);
    gp.awaitReady(Duration.ofSeconds(60));
    return gp;
  }

  private void awaitReady(Duration timeout) throws InterruptedException {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "gateway exited with " + process.exitValue() + " before it was ready");
      }
      try {
        if (TestGateway.send(port, http, "GET", "/health/ready", null, null).statusCode() == 200) {
          return;
        }
      } catch (RuntimeException notYet) {
        // not listening yet
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("gateway not ready after " + timeout);
  }

  /** SIGKILL: no shutdown hook, no flush, nothing. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** SIGSTOP: the process stays, with its sockets open, and does nothing until {@link #resume}. */
  public void pause() throws IOException, InterruptedException {
    signal("STOP");
  }

  /** SIGCONT after {@link #pause}. */
  public void resume() throws IOException, InterruptedException {
    signal("CONT");
  }

  private void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).start();
    if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      throw new IllegalStateException("kill -" + name + " failed");
    }
  }

  /** SIGTERM, then the exit code. */
  public int terminate(Duration timeout) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException("gateway did not exit within " + timeout + " of SIGTERM");
    }
    return process.exitValue();
  }
}
