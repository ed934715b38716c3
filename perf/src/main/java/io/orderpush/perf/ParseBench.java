package io.orderpush.perf;

import java.io.File;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The CPU time of ingest's parsing, per event, on one thread: {@code EventParser.parse}
 * (validation, the compact copy of {@code data}, its masked rendering, the stored lines) over the
 * same request bodies as {@link IngestBench} sends (batches of events of about 520 bytes, with
 * personal data to mask). Each gateway jar given is loaded in a class loader of its own, and the
 * jars take turns round after round in the same JVM, so a before/after comparison shares the
 * machine's state.
 *
 * <pre>
 * java -cp ingest-bench.jar io.orderpush.perf.ParseBench [--batch=100] [--rounds=7]
 *     [--seconds=3] [--warmup=15] gateway.jar [other-gateway.jar ...]
 * </pre>
 */
public final class ParseBench {

  private ParseBench() {}

  public static void main(String[] args) throws Throwable {
    int batch = 100;
    int rounds = 7;
    double seconds = 3;
    double warmup = 15;
    List<String> jars = new ArrayList<>();
    for (String a : args) {
      if (a.startsWith("--batch=")) {
        batch = Integer.parseInt(a.substring(8));
      } else if (a.startsWith("--rounds=")) {
        rounds = Integer.parseInt(a.substring(9));
      } else if (a.startsWith("--seconds=")) {
        seconds = Double.parseDouble(a.substring(10));
      } else if (a.startsWith("--warmup=")) {
        warmup = Double.parseDouble(a.substring(9));
      } else if (a.startsWith("--")) {
        throw new IllegalArgumentException("unknown option " + a);
      } else {
        jars.add(a);
      }
    }
    if (jars.isEmpty()) {
      System.err.println(
          "usage: ParseBench [--batch=100] [--rounds=7] [--seconds=3] [--warmup=15] gateway.jar"
              + " [other-gateway.jar ...]");
      System.exit(2);
    }
    EventFactory events = new EventFactory("parse", "m-", 1000, 42);
    byte[][] bodies = new byte[256][];
    for (int i = 0; i < bodies.length; i++) {
      bodies[i] = events.next(batch).body().getBytes();
    }
    List<Parser> parsers = new ArrayList<>();
    for (String jar : jars) {
      parsers.add(Parser.load(jar, batch));
    }
    System.out.printf(
        "parse-bench: %d bodies of %d events (%d bytes each on average), %d rounds of %.1f s per"
            + " jar after %.0f s of warm-up each, one thread%n",
        bodies.length,
        batch,
        Arrays.stream(bodies).mapToInt(b -> b.length).sum() / bodies.length,
        rounds,
        seconds,
        warmup);
    for (Parser p : parsers) {
      p.run(bodies, warmup, batch); // JIT
    }
    double[][] nsPerEvent = new double[parsers.size()][rounds];
    for (int r = 0; r < rounds; r++) {
      for (int j = 0; j < parsers.size(); j++) {
        nsPerEvent[j][r] = parsers.get(j).run(bodies, seconds, batch);
      }
    }
    for (int j = 0; j < parsers.size(); j++) {
      double[] s = nsPerEvent[j].clone();
      Arrays.sort(s);
      System.out.printf(
          "  %-40s CPU per event: median %.0f ns (min %.0f, max %.0f) over %d rounds: %s%n",
          new File(jars.get(j)).getName(),
          s[s.length / 2],
          s[0],
          s[s.length - 1],
          rounds,
          Arrays.toString(Arrays.stream(nsPerEvent[j]).mapToLong(Math::round).toArray()));
    }
  }

  /** One jar's {@code EventParser}, called through a method handle. */
  private record Parser(MethodHandle parse) {

    static Parser load(String jar, int batch) throws Throwable {
      URLClassLoader loader =
          new URLClassLoader(
              new URL[] {new File(jar).toURI().toURL()}, ClassLoader.getPlatformClassLoader());
      Class<?> type = Class.forName("io.orderpush.gateway.ingest.EventParser", true, loader);
      Object parser =
          type.getConstructor(int.class, int.class).newInstance(Math.max(batch, 1000), 65_536);
      MethodHandle parse =
          MethodHandles.publicLookup()
              .findVirtual(type, "parse", MethodType.methodType(List.class, byte[].class))
              .bindTo(parser);
      return new Parser(parse);
    }

    /** Parses bodies for {@code seconds} of this thread's CPU time; the CPU ns per event. */
    double run(byte[][] bodies, double seconds, int batch) throws Throwable {
      ThreadMXBean threads = ManagementFactory.getThreadMXBean();
      long start = threads.getCurrentThreadCpuTime();
      long until = start + (long) (seconds * 1e9);
      long events = 0;
      long now;
      int i = 0;
      do {
        List<?> parsed = (List<?>) parse.invoke(bodies[i++ & (bodies.length - 1)]);
        if (parsed.size() != batch) {
          throw new IllegalStateException("parsed " + parsed.size() + " of " + batch);
        }
        events += batch;
        now = threads.getCurrentThreadCpuTime();
      } while (now < until);
      return (now - start) / (double) events;
    }
  }
}
