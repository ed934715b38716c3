package io.orderpush.persistence.apps;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class SecretCipherTest {

  static final byte[] AAD = {1, 2, 3};

  static byte[] key(int fill) {
    byte[] k = new byte[32];
    Arrays.fill(k, (byte) fill);
    return k;
  }

  @Test
  void shouldSealUnderTheCurrentKeyAndOpenUnderItOrAnOldOne() {
    SecretCipher a = new SecretCipher(key(1));
    byte[] sealedByA = a.encrypt("whsec_x".getBytes(StandardCharsets.UTF_8), AAD);
    SecretCipher rotated = new SecretCipher(key(2), List.of(key(1)));
    assertThat(rotated.keyId()).isEqualTo(SecretCipher.keyId(key(2))).isNotEqualTo(a.keyId());
    assertThat(rotated.decrypt(sealedByA, a.keyId(), AAD)).asString().isEqualTo("whsec_x");
    assertThat(rotated.decrypt(sealedByA, null, AAD)).asString().isEqualTo("whsec_x");
    byte[] sealedByB = rotated.encrypt("whsec_y".getBytes(StandardCharsets.UTF_8), AAD);
    assertThatThrownBy(() -> a.decrypt(sealedByB, AAD))
        .isInstanceOf(SecretUnreadableException.class);
  }

  @Test
  void shouldNameAMissingKeyByItsIdOnly() {
    SecretCipher b = new SecretCipher(key(2));
    byte[] sealed = new SecretCipher(key(1)).encrypt(new byte[] {1}, AAD);
    String missing = SecretCipher.keyId(key(1));
    assertThatThrownBy(() -> b.decrypt(sealed, missing, AAD))
        .isInstanceOf(SecretUnreadableException.class)
        .hasMessageContaining("sealed under key " + missing)
        .hasMessageContaining("neither the current key (" + b.keyId() + ")");
  }

  @Test
  void shouldRefuseACiphertextMovedToAnotherRow() {
    SecretCipher a = new SecretCipher(key(1));
    byte[] sealed = a.encrypt(new byte[] {1}, AAD);
    assertThatThrownBy(() -> a.decrypt(sealed, a.keyId(), new byte[] {9}))
        .isInstanceOf(SecretUnreadableException.class);
  }

  @Test
  void shouldDeriveShortStableKeyIds() {
    assertThat(SecretCipher.keyId(key(1)))
        .matches("k[0-9a-f]{8}")
        .isEqualTo(SecretCipher.keyId(key(1)));
  }
}
