package io.orderpush.gateway.http;

import io.vertx.core.buffer.Buffer;

/**
 * Nesting depth of a JSON text, measured before it is decoded: one pass over the bytes counting
 * brackets outside strings. Operator bodies are flat objects; a deeper one is refused with {@code
 * 400 too_deep} before a decoder builds a tree of it.
 */
public final class JsonDepth {

  /** Levels of objects and arrays an operator or app request body may nest. */
  public static final int MAX_OPERATOR_DEPTH = 16;

  private JsonDepth() {}

  /** The deepest nesting in {@code json}, counting the outermost object or array as 1. */
  public static int of(Buffer json) {
    int depth = 0;
    int max = 0;
    boolean inString = false;
    for (int i = 0, n = json.length(); i < n; i++) {
      byte c = json.getByte(i);
      if (inString) {
        if (c == '\\') {
          i++;
        } else if (c == '"') {
          inString = false;
        }
      } else if (c == '"') {
        inString = true;
      } else if (c == '{' || c == '[') {
        max = Math.max(max, ++depth);
      } else if (c == '}' || c == ']') {
        depth--;
      }
    }
    return max;
  }

  /** Refuses a body deeper than {@link #MAX_OPERATOR_DEPTH} with {@code 400 too_deep}. */
  public static void check(Buffer body) {
    if (body != null && of(body) > MAX_OPERATOR_DEPTH) {
      throw new ApiException(
          400,
          "too_deep",
          "the body nests objects and arrays deeper than " + MAX_OPERATOR_DEPTH + " levels");
    }
  }
}
