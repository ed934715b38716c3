package io.orderpush.persistence.apps;

import io.orderpush.persistence.PersistenceException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM for secrets the gateway must be able to read back (webhook signing keys). The stored
 * form is nonce || ciphertext+tag; the associated data binds a ciphertext to its row.
 */
public final class SecretCipher {

  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;

  private final SecretKeySpec key;
  private final SecureRandom random = new SecureRandom();

  /**
   * @param key exactly 32 bytes
   */
  public SecretCipher(byte[] key) {
    if (key.length != 32) {
      throw new IllegalArgumentException("secret key must be 32 bytes, was " + key.length);
    }
    this.key = new SecretKeySpec(key.clone(), "AES");
  }

  public byte[] encrypt(byte[] plaintext, byte[] associatedData) {
    byte[] nonce = new byte[NONCE_BYTES];
    random.nextBytes(nonce);
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
      cipher.updateAAD(associatedData);
      byte[] sealed = cipher.doFinal(plaintext);
      return ByteBuffer.allocate(NONCE_BYTES + sealed.length).put(nonce).put(sealed).array();
    } catch (GeneralSecurityException e) {
      throw new PersistenceException("encryption failed", e);
    }
  }

  public byte[] decrypt(byte[] stored, byte[] associatedData) {
    if (stored.length <= NONCE_BYTES) {
      throw new PersistenceException(
          "stored secret is too short to decrypt (" + stored.length + " bytes)");
    }
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, stored, 0, NONCE_BYTES));
      cipher.updateAAD(associatedData);
      return cipher.doFinal(stored, NONCE_BYTES, stored.length - NONCE_BYTES);
    } catch (GeneralSecurityException e) {
      throw new SecretUnreadableException(
          "stored secret cannot be decrypted with the configured key", e);
    }
  }
}
