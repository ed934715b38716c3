package io.orderpush.gateway.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.Writer;

/**
 * The plain rendering of an event's {@code data} is written by a generator kept per thread and
 * reused from event to event, into a builder emptied after every event; the masked rendering is
 * made from it ({@link io.orderpush.persistence.masking.Masker.Copied#masked}). A new generator and
 * {@code StringWriter} per rendering cost a Jackson output buffer, a synchronized buffer grown by
 * copying, and its inflation to UTF-16 at the first non-Latin-1 character: in a profile of ingest,
 * most of the bytes allocated while parsing a batch.
 *
 * <p>Each event's data is one root value of the generator, written with no separator. A rendering
 * that did not finish (malformed input, too deep) leaves the generator mid-value: {@link #discard}
 * replaces it. Confined to one thread ({@link #get}).
 */
final class DataWriters {

  /** Builders grown past this (a body near the size limit) are not kept for the next event. */
  private static final int KEEP_CHARS = 64 * 1024;

  private static final ThreadLocal<DataWriters> PER_THREAD = new ThreadLocal<>();

  private final JsonFactory json;
  private Out plainOut;
  private JsonGenerator plain;

  private DataWriters(JsonFactory json) throws IOException {
    this.json = json;
    open();
  }

  /** This thread's writer, emptied; created for {@code json} on first use. */
  static DataWriters get(JsonFactory json) throws IOException {
    DataWriters w = PER_THREAD.get();
    if (w == null || w.json != json) {
      w = new DataWriters(json);
      PER_THREAD.set(w);
    }
    return w;
  }

  JsonGenerator plain() {
    return plain;
  }

  /** Characters the generator has written since the builder was last emptied, buffered included. */
  int position() {
    return plainOut.sb.length() + plain.getOutputBuffered();
  }

  /** The plain rendering of the value just written; the builder is emptied. */
  String takePlain() throws IOException {
    plain.flush();
    return plainOut.take();
  }

  /** The rendering did not finish: the generator is replaced. */
  void discard() throws IOException {
    open();
  }

  private void open() throws IOException {
    plainOut = new Out();
    plain = json.createGenerator(plainOut);
    plain.setRootValueSeparator(null);
  }

  /** An unsynchronized writer into a builder that is taken and emptied per value. */
  private static final class Out extends Writer {

    private StringBuilder sb = new StringBuilder(1024);

    String take() {
      String s = sb.toString();
      clear();
      return s;
    }

    void clear() {
      if (sb.capacity() > KEEP_CHARS) {
        sb = new StringBuilder(1024);
      } else {
        sb.setLength(0);
      }
    }

    @Override
    public void write(char[] cbuf, int off, int len) {
      sb.append(cbuf, off, len);
    }

    @Override
    public void write(String str, int off, int len) {
      sb.append(str, off, off + len);
    }

    @Override
    public void write(int c) {
      sb.append((char) c);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  }
}
