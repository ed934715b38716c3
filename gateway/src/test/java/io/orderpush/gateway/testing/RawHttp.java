package io.orderpush.gateway.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 and WebSocket over a plain socket, for tests that need what ordinary clients refuse to
 * send (any bytes in a path, broken frames) or a chosen source address (any 127.x.y.z on Linux
 * loopback). Every read has a timeout, so a stalled server fails the test instead of hanging it.
 */
public final class RawHttp {

  private static final SecureRandom RANDOM = new SecureRandom();

  private RawHttp() {}

  /** A response: status (-1 if the server closed without answering), headers, body. */
  public record Response(int status, Map<String, String> headers, String body) {
    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }

  /** Thrown when the server neither answers nor closes within the timeout. */
  public static final class Stalled extends RuntimeException {
    public Stalled(String message) {
      super(message);
    }
  }

  public static Socket connect(String from, int port, int timeoutMs) {
    try {
      Socket s = new Socket();
      s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
      s.connect(new InetSocketAddress("127.0.0.1", port), timeoutMs);
      s.setSoTimeout(timeoutMs);
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Sends one request (the request line's target as given, byte for byte) with a correct
   * Content-Length and {@code Connection: close}, and reads the answer.
   */
  public static Response request(
      String from,
      int port,
      String method,
      byte[] target,
      Map<String, String> headers,
      byte[] body,
      int timeoutMs) {
    try (Socket s = connect(from, port, timeoutMs)) {
      ByteArrayOutputStream req = new ByteArrayOutputStream();
      req.write((method + " ").getBytes(StandardCharsets.ISO_8859_1));
      req.write(target);
      StringBuilder head =
          new StringBuilder(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
      headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
      if (body != null) {
        head.append("Content-Length: ").append(body.length).append("\r\n");
      }
      head.append("\r\n");
      req.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
      if (body != null) {
        req.write(body);
      }
      s.getOutputStream().write(req.toByteArray());
      s.getOutputStream().flush();
      return readResponse(s.getInputStream(), true);
    } catch (SocketTimeoutException e) {
      throw new Stalled(method + " " + new String(target, StandardCharsets.ISO_8859_1));
    } catch (IOException e) {
      return new Response(-1, Map.of(), e.toString());
    }
  }

  /** Reads a status line and headers, then (if {@code body}) everything until the server closes. */
  public static Response readResponse(InputStream in, boolean body) throws IOException {
    String status = line(in);
    if (status == null) {
      return new Response(-1, Map.of(), "");
    }
    Map<String, String> headers = new LinkedHashMap<>();
    for (String l = line(in); l != null && !l.isEmpty(); l = line(in)) {
      int colon = l.indexOf(':');
      if (colon > 0) {
        headers.put(
            l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
      }
    }
    String text = "";
    if (body) {
      String length = headers.get("content-length");
      byte[] b = length != null ? in.readNBytes(Integer.parseInt(length)) : in.readAllBytes();
      text = new String(b, StandardCharsets.UTF_8);
    }
    String[] parts = status.split(" ", 3);
    int code = parts.length > 1 && parts[1].matches("\\d{3}") ? Integer.parseInt(parts[1]) : -1;
    return new Response(code, headers, text);
  }

  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) != -1) {
      if (c == '\n') {
        String s = b.toString(StandardCharsets.ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
      }
      b.write(c);
    }
    return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
  }

  /** A WebSocket opened by hand, to write any frame, valid or not. */
  public static final class WebSocketConnection implements AutoCloseable {
    public final Socket socket;
    public final Response handshake;

    private WebSocketConnection(Socket socket, Response handshake) {
      this.socket = socket;
      this.handshake = handshake;
    }

    /**
     * Upgrades {@code path} with {@code token} (none if null); check {@link #handshake}, which
     * holds the body of a refusal.
     */
    public static WebSocketConnection open(
        String from, int port, String path, String token, int timeoutMs) {
      return open(from, port, path, token, "13", timeoutMs);
    }

    /** {@link #open} asking for WebSocket protocol {@code version}. */
    public static WebSocketConnection open(
        String from, int port, String path, String token, String version, int timeoutMs) {
      Socket s = connect(from, port, timeoutMs);
      try {
        byte[] nonce = new byte[16];
        RANDOM.nextBytes(nonce);
        String req =
            "GET "
                + path
                + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Version: "
                + version
                + "\r\nSec-WebSocket-Key: "
                + Base64.getEncoder().encodeToString(nonce)
                + "\r\n"
                + (token == null ? "" : "Authorization: Bearer " + token + "\r\n")
                + "\r\n";
        s.getOutputStream().write(req.getBytes(StandardCharsets.ISO_8859_1));
        Response head = readResponse(s.getInputStream(), false);
        String length = head.header("Content-Length");
        if (head.status() != 101 && length != null) {
          // a refusal's JSON error
          byte[] b = s.getInputStream().readNBytes(Integer.parseInt(length));
          head = new Response(head.status(), head.headers(), new String(b, StandardCharsets.UTF_8));
        }
        return new WebSocketConnection(s, head);
      } catch (SocketTimeoutException e) {
        closeQuietly(s);
        throw new Stalled("WebSocket handshake on " + path);
      } catch (IOException e) {
        closeQuietly(s);
        throw new UncheckedIOException(e);
      }
    }

    /**
     * Writes one client frame (masked, as clients must): {@code first} holds FIN, RSV and opcode.
     */
    public void frame(int first, byte[] payload) throws IOException {
      OutputStream out = socket.getOutputStream();
      ByteArrayOutputStream f = new ByteArrayOutputStream(payload.length + 14);
      f.write(first);
      if (payload.length < 126) {
        f.write(0x80 | payload.length);
      } else if (payload.length < 65536) {
        f.write(0x80 | 126);
        f.write(payload.length >>> 8);
        f.write(payload.length);
      } else {
        f.write(0x80 | 127);
        long n = payload.length;
        for (int i = 7; i >= 0; i--) {
          f.write((int) (n >>> (8 * i)));
        }
      }
      byte[] mask = new byte[4];
      RANDOM.nextBytes(mask);
      f.write(mask);
      for (int i = 0; i < payload.length; i++) {
        f.write(payload[i] ^ mask[i & 3]);
      }
      out.write(f.toByteArray());
      out.flush();
    }

    public void text(String s) throws IOException {
      frame(0x81, s.getBytes(StandardCharsets.UTF_8));
    }

    /** A server frame: opcode and payload. */
    public record Frame(int opcode, byte[] payload) {
      public String text() {
        return new String(payload, StandardCharsets.UTF_8);
      }

      /** The status code of a close frame, or -1. */
      public int closeCode() {
        return opcode == 8 && payload.length >= 2
            ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff)
            : -1;
      }
    }

    /** The next server frame, or null when the server closed the TCP connection. */
    public Frame read() throws IOException {
      InputStream in = socket.getInputStream();
      int b0 = in.read();
      if (b0 < 0) {
        return null;
      }
      int b1 = in.read();
      if (b1 < 0) {
        return null;
      }
      long len = b1 & 0x7f;
      if (len == 126) {
        len = (in.read() << 8) | in.read();
      } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) {
          len = (len << 8) | in.read();
        }
      }
      byte[] payload = in.readNBytes((int) len);
      return new Frame(b0 & 0x0f, payload);
    }

    /**
     * Reads until a close frame or the end of the connection: the close code, 1006 when the
     * connection ended without a close frame. {@link Stalled} if neither happens in time.
     */
    public int awaitClose() throws IOException {
      try {
        for (Frame f = read(); f != null; f = read()) {
          if (f.opcode() == 8) {
            return f.closeCode();
          }
        }
        return 1006;
      } catch (SocketTimeoutException e) {
        throw new Stalled("no close from the server");
      } catch (java.net.SocketException reset) {
        return 1006;
      }
    }

    @Override
    public void close() {
      closeQuietly(socket);
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }
}
