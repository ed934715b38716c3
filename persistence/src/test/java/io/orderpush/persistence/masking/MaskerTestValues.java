package io.orderpush.persistence.masking;

/** Random JSON values for masking tests, shared with the gateway's parser tests. */
public final class MaskerTestValues {

  private MaskerTestValues() {}

  /** A random JSON value: listed member names often, nesting up to {@code depth}. */
  public static String randomValue(java.util.Random r, int depth) {
    String[] names = {
      "buyer",
      "receiver",
      "address",
      "name",
      "phone",
      "mobile",
      "email",
      "nick",
      "detail",
      "sku",
      "items",
      "amount",
      "note",
      "id"
    };
    int kind = r.nextInt(depth <= 0 ? 6 : 8);
    switch (kind) {
      case 0:
        // escapes, control characters and a quote that a mask may keep as a first character
        return "\""
            + "\\u0001\\\"\\\\\\n张三 Zhang 13812345678 \\\" \\u00e9\\u001f a@b.cn\\t"
                .substring(new int[] {0, 6, 8, 10, 12, 14, 17, 19}[r.nextInt(8)])
            + "\"";
      case 1:
        return Integer.toString(r.nextInt(1000) - 500);
      case 2:
        return r.nextBoolean() ? "12.50" : "1E+400";
      case 3:
        return r.nextBoolean() ? "true" : "false";
      case 4:
        return "null";
      case 5:
        return "\"\"";
      case 6:
        {
          StringBuilder sb = new StringBuilder("{ ");
          int n = r.nextInt(4);
          java.util.Set<String> used = new java.util.HashSet<>();
          for (int i = 0; i < n; i++) {
            String name = names[r.nextInt(names.length)];
            if (!used.add(name)) {
              continue;
            }
            sb.append(used.size() > 1 ? " , " : "").append('"').append(name).append("\" : ");
            sb.append(randomValue(r, depth - 1));
          }
          return sb.append(" }").toString();
        }
      default:
        {
          StringBuilder sb = new StringBuilder("[");
          int n = r.nextInt(3);
          for (int i = 0; i < n; i++) {
            sb.append(i > 0 ? "," : "").append(randomValue(r, depth - 1));
          }
          return sb.append("]").toString();
        }
    }
  }

  /**
   * {@code data} as ingest's token-by-token copy writes it: compact, numbers as sent, strings with
   * Jackson's default escaping.
   */
  public static String compactCopy(String data) throws java.io.IOException {
    com.fasterxml.jackson.core.JsonFactory json = new com.fasterxml.jackson.core.JsonFactory();
    java.io.StringWriter out = new java.io.StringWriter();
    try (com.fasterxml.jackson.core.JsonParser p = json.createParser(data);
        com.fasterxml.jackson.core.JsonGenerator g = json.createGenerator(out)) {
      p.nextToken();
      int depth = 0;
      do {
        depth += JsonCopy.writeToken(p.currentToken(), p, g);
      } while (depth > 0 && p.nextToken() != null);
    }
    return out.toString();
  }

  /**
   * A random {@code data} object with listed members and others, written loosely (spaces after
   * separators), led by characters of two, three and four UTF-8 bytes.
   */
  public static String randomData(java.util.Random r) {
    String[] names = {"\"张三丰\"", "\"Li Lei\"", "\"\u00e9\ud83d\ude00x\"", "\"a\"", "13812345678"};
    return "{\"e\":\"\ud83d\ude00\u00e9\u5f20\ud83d\ude00\", \"buyer\": "
        + randomValue(r, 4)
        + ", \"receiver\": {\"name\": "
        + randomValue(r, 3)
        + ", \"phone\": "
        + names[r.nextInt(names.length)]
        + "}, \"x\": "
        + randomValue(r, 4)
        + ", \"address\": "
        + names[r.nextInt(names.length)]
        + "}";
  }
}
