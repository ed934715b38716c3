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
    Launch shared = classDataSharing();
    java.util.List<String> options = new java.util.ArrayList<>(shared.options());
    options.addAll(jvm);
    return launch(port, logName, env, shared.classPath(), options);
  }

  /** The class path and JVM options every gateway process of this test JVM starts with. */
  private record Launch(String classPath, java.util.List<String> options) {}

  private static Launch shared;

  /**
   * Maps the gateway's classes from an archive (AppCDS) instead of loading them from the jars: a
   * gateway process gets ready in about 2.4 s instead of 5.5 (with the client compiler only,
   * below), and the suite starts about fifty. The archive is valid only for one exact class path,
   * so it is made once per test JVM, by a gateway that starts and stops gracefully with {@code
   * -XX:ArchiveClassesAtExit}. AppCDS refuses class directories, so the processes run from the jars
   * Maven built, without test-classes (whose logback-test.xml is named instead). Where the
   * gateway's classes sit in directories (an IDE), or the archive cannot be made, processes start
   * as before, only slower.
   */
  private static synchronized Launch classDataSharing() throws InterruptedException {
    if (shared != null) {
      return shared;
    }
    String full = System.getProperty("java.class.path");
    shared = new Launch(full, java.util.List.of());
    java.util.List<String> jars = new java.util.ArrayList<>();
    File ownTestClasses = new File("target", "test-classes").getAbsoluteFile();
    File logback = null;
    for (String entry : full.split(File.pathSeparator)) {
      File f = new File(entry);
      if (f.isFile()) {
        jars.add(entry);
      } else if (f.getAbsoluteFile().equals(ownTestClasses)) {
        logback = new File(f, "logback-test.xml");
      } else if (f.isDirectory()) {
        return shared;
      }
    }
    java.util.List<String> options = new java.util.ArrayList<>();
    if (logback != null && logback.isFile()) {
      options.add("-Dlogback.configurationFile=" + logback.getAbsolutePath());
    }
    String classPath = String.join(File.pathSeparator, jars);
    File archive = new File("target", "gateway-classes.jsa").getAbsoluteFile();
    try {
      java.nio.file.Files.deleteIfExists(archive.toPath());
      java.util.List<String> training = new java.util.ArrayList<>(options);
      training.add("-XX:ArchiveClassesAtExit=" + archive.getPath());
      // a cluster of its own: it must not join, even for seconds, the cluster a test started
      String cluster = TestGateway.CLUSTER + "-classes";
      int exit =
          launch(
                  TestGateway.freePort(),
                  "gateway-classes-training.log",
                  java.util.Map.of(
                      "GATEWAY_CLUSTER_NAME",
                      cluster,
                      "GATEWAY_CONTROL_CHANNEL",
                      "gw:control:" + cluster),
                  classPath,
                  training)
              .terminate(Duration.ofSeconds(60));
      if (exit != 0 || archive.length() == 0) {
        System.err.println("GatewayProcess: no class archive (training exited " + exit + ")");
        return shared;
      }
    } catch (IOException | IllegalStateException e) {
      System.err.println("GatewayProcess: no class archive: " + e);
      return shared;
    }
    options.add("-XX:SharedArchiveFile=" + archive.getPath());
    // a refused archive only makes a start slower: no JVM warning in logs that tests parse
    options.add("-Xlog:cds*=off");
    shared = new Launch(classPath, java.util.List.copyOf(options));
    return shared;
  }

  private static GatewayProcess launch(
      int port,
      String logName,
      java.util.Map<String, String> env,
      String classPath,
      java.util.List<String> jvm)
      throws IOException, InterruptedException {
    java.util.List<String> command = new java.util.ArrayList<>();
    command.add(new File(System.getProperty("java.home"), "bin/java").getPath());
    command.add("-Xmx512m");
    // The client compiler only: a test's gateway gets ready 0.6-0.8 s sooner (on top of the
    // archive), and none carries load long enough for the server compiler to pay off.
    command.add("-XX:TieredStopAtLevel=1");
    command.addAll(jvm);
    command.addAll(java.util.List.of("-cp", classPath, Main.class.getName()));
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
      Thread.sleep(20);
    }
    throw new IllegalStateException("gateway not ready after " + timeout);
  }

  /**
   * Removes what a node killed by a test leaves in Redis, as its expiry would: its lease (up to 8.5
   * s more at the default 10 s) and its address (up to 30 s). Left there, the gateways a later test
   * starts count it as live: it owns a share of their channels, and if its id sorts first they take
   * it for the ingest writer, until it expires.
   */
  public static void forget(String nodeId) {
    String nodes = "gw:nodes:{" + TestGateway.CLUSTER + "}";
    try (var client =
            io.lettuce.core.RedisClient.create(
                io.orderpush.persistence.testing.TestServices.redisUrl());
        var conn = client.connect()) {
      for (String token : conn.sync().zrange(nodes, 0, -1)) {
        if (token.startsWith(nodeId + "/")) {
          conn.sync().zrem(nodes, token);
        }
      }
      conn.sync().del("gw:addr:{" + TestGateway.CLUSTER + "}:" + nodeId);
    }
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
