package io.orderpush.persistence.masking;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/** Copies JSON token by token, numbers from their source text, so nothing is re-rendered. */
public final class JsonCopy {

  private JsonCopy() {}

  /** How token {@code t} changes the nesting depth, as {@link #writeToken} answers. */
  public static int depthChange(JsonToken t) {
    return switch (t) {
      case START_OBJECT, START_ARRAY -> 1;
      case END_OBJECT, END_ARRAY -> -1;
      default -> 0;
    };
  }

  /**
   * Writes the parser's token {@code t} to {@code g}; returns how it changes the nesting depth (+1
   * for a start, -1 for an end, else 0).
   */
  public static int writeToken(JsonToken t, JsonParser p, JsonGenerator g) throws IOException {
    switch (t) {
      case START_OBJECT -> {
        g.writeStartObject();
        return 1;
      }
      case END_OBJECT -> {
        g.writeEndObject();
        return -1;
      }
      case START_ARRAY -> {
        g.writeStartArray();
        return 1;
      }
      case END_ARRAY -> {
        g.writeEndArray();
        return -1;
      }
      case FIELD_NAME -> g.writeFieldName(p.currentName());
      case VALUE_STRING ->
          g.writeString(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
      // from the parser's own buffer, as strings are: no String per number
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT ->
          g.writeNumber(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
      case VALUE_TRUE -> g.writeBoolean(true);
      case VALUE_FALSE -> g.writeBoolean(false);
      case VALUE_NULL -> g.writeNull();
      default -> throw new IllegalStateException("unexpected token " + t);
    }
    return 0;
  }
}
