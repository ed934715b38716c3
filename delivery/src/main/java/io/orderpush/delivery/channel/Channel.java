package io.orderpush.delivery.channel;

import io.orderpush.persistence.events.EventTypes;
import java.util.Collection;
import java.util.List;
import java.util.UUID;

/**
 * One (app, merchant) channel on this node. Mutable, and confined to the delivery engine's context:
 * nothing here is touched from any other thread.
 */
public final class Channel {

  /** The grant scope that lets personal data through unmasked (guarantee 6). */
  public static final String PII = "pii";

  final UUID appId;
  final String merchantId;

  /** The cursor a new channel starts from: its last checkpoint, or the grant's start seq. */
  final long initialCursor;

  /**
   * Identifies the grant (its time), so a cursor left from an earlier, revoked grant is not reused.
   */
  final long grantVersion;

  /**
   * Whether the grant carries the {@code pii} scope: personal data goes out whole only then. Read
   * when each batch is cut, so a scope change applies from the next batch.
   */
  boolean pii;

  /**
   * The event types the grant subscribes to: events of other types are passed over (never sent, the
   * cursor moves past them). Read when each batch is cut, so a change applies from the next.
   */
  EventTypes types = EventTypes.ALL;

  /**
   * The last seq at or below {@link #sent} that the owner was delivered (its types included), or,
   * from a claim until the first delivery, the one before the cursor as Redis knows it: the {@code
   * prevSeq} of the next event delivered. All delivered events are acked once {@code cursor >=
   * lastDelivered}; events above it up to {@code sent} were passed over.
   */
  long lastDelivered;

  Subscriber owner;

  /**
   * Bumped whenever the owner changes; a read or ack started under another generation is dropped.
   */
  int generation;

  boolean claimed;

  /**
   * True once a claim told us the cursor; from then on it, not the grant's start, seeds a re-claim.
   */
  boolean cursorKnown;

  long epoch;

  /** How many times the cursor was set through the API or for a new grant, as of this claim. */
  long rewinds;

  /** The lease token under which this node claimed the channel; null while not claimed. */
  String node;

  /**
   * A claim this node sent lost its answer (a failed call, a dropped connection): it may have
   * landed in Redis all the same. False again once a later claim's answer is known, or once the
   * channel is let go (its release then looks the claim up).
   */
  boolean unsure;

  /** A holder found dead, whose claim the next attempt may take over; null if none. */
  String takeoverFrom;

  /** Claims refused in a row because another live node held the channel (for the backoff). */
  int waits;

  /** Highest seq acked (as far as this node has committed to Redis). */
  long cursor;

  /** Highest seq sent to the current owner. Always >= cursor while claimed. */
  long sent;

  /**
   * Highest seq ever sent to the current owner, across restarts: acks up to it are not protocol
   * errors.
   */
  long maxSent;

  /** Highest seq known to exist; MAX_VALUE until a read finds the end. */
  long knownHead = Long.MAX_VALUE;

  /** Bumped by every head notification, to tell whether one arrived during a read. */
  long headVersion;

  boolean reading;

  /** A failed read waits for its retry timer. */
  boolean readRetry;

  boolean queued;

  /**
   * A batch the owner handed out and must send again (a callback retry): the next read of the
   * channel reads this range back whole instead of new events; null when none. Cleared when the
   * channel changes hands.
   */
  Resend resend;

  /**
   * The seq range of a batch to send again, with the event types and first prevSeq it was cut with.
   */
  record Resend(long first, long last, EventTypes types, long prev) {}

  /** When the oldest unacked event was sent (ms), 0 when nothing is unacked; for ack timeouts. */
  long unackedSince;

  /** A channel whose grant lacks the {@code pii} scope: personal data goes out masked. */
  public Channel(UUID appId, String merchantId, long initialCursor, long grantVersion) {
    this(appId, merchantId, initialCursor, grantVersion, List.of());
  }

  public Channel(
      UUID appId,
      String merchantId,
      long initialCursor,
      long grantVersion,
      Collection<String> scopes) {
    this.appId = appId;
    this.merchantId = merchantId;
    this.initialCursor = initialCursor;
    this.grantVersion = grantVersion;
    scopes(scopes);
  }

  /** The grant's scopes now. Engine context only. */
  public void scopes(Collection<String> scopes) {
    this.pii = scopes.contains(PII);
  }

  /** The grant's event types now (empty: every type). Engine context only. */
  public void eventTypes(Collection<String> patterns) {
    this.types = patterns.isEmpty() ? EventTypes.ALL : EventTypes.of(List.copyOf(patterns));
  }

  public EventTypes types() {
    return types;
  }

  /** Whether this channel's events go out with personal data unmasked. */
  /**
   * Batches sent and not yet acked, for an {@link DeliveryProbe}: {last seq, events, committed at
   * ms}. Null unless the app is watched.
   */
  java.util.ArrayDeque<long[]> probed;

  /** Batches remembered for the probe at most; older ones are forgotten (never reported). */
  static final int MAX_PROBED = 1024;

  /** The namespace of drills' merchants: {@code sandbox:<drill>:<n>}. */
  public static final String SANDBOX_PREFIX = "sandbox:";

  /** Whether this is a channel of a drill's sandbox merchant. */
  public boolean sandbox() {
    return merchantId.startsWith(SANDBOX_PREFIX);
  }

  public boolean pii() {
    return pii;
  }

  public UUID appId() {
    return appId;
  }

  public String merchantId() {
    return merchantId;
  }

  /** The grant this channel serves (its time); a different one means revoked and granted again. */
  public long grantVersion() {
    return grantVersion;
  }

  public Subscriber owner() {
    return owner;
  }

  public long cursor() {
    return cursor;
  }

  public long sent() {
    return sent;
  }

  /**
   * How many times the channel's cursor was set through the API (a rewind or skip) or started again
   * for a new grant, as of this node's claim: what tells a batch sent again from a retry of the
   * same seqs.
   */
  public long rewinds() {
    return rewinds;
  }

  /** Milliseconds since epoch when the oldest event still unacked was sent, 0 if none is. */
  public long unackedSince() {
    return unackedSince;
  }

  long unacked() {
    return sent - cursor;
  }

  @Override
  public String toString() {
    return "Channel[app="
        + appId
        + ", merchant="
        + merchantId
        + ", cursor="
        + cursor
        + ", sent="
        + sent
        + ", epoch="
        + epoch
        + (pii ? ", pii" : "")
        + (types.all() ? "" : ", types=" + types)
        + "]";
  }
}
