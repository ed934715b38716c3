package io.orderpush.gateway;

import java.util.Random;

/**
 * The random choices of a test, seeded so that a failure can be replayed: the seed is printed, and
 * {@code -Dtest.seed=N} sets it. Each thread of a test takes its own {@link #fork} so that a
 * thread's choices depend on the seed only, not on how the threads interleave.
 */
public final class TestRandom {

  private final String test;
  private final long seed;

  private TestRandom(String test, long seed) {
    this.test = test;
    this.seed = seed;
  }

  /** A seed from {@code -Dtest.seed}, or a fresh one; printed either way. */
  public static TestRandom forTest(String test) {
    String given = System.getProperty("test.seed");
    long seed = given == null || given.isBlank() ? System.nanoTime() : Long.parseLong(given.trim());
    System.out.printf("%s: random seed %d (replay with -Dtest.seed=%d)%n", test, seed, seed);
    return new TestRandom(test, seed);
  }

  public long seed() {
    return seed;
  }

  /** The stream of choices number {@code stream} (a thread, a client) of this test. */
  public Random fork(int stream) {
    return new Random(seed * 31 + stream);
  }

  /** For failure messages: which seed replays this run. */
  @Override
  public String toString() {
    return test + " with -Dtest.seed=" + seed;
  }
}
