package io.orderpush.persistence.apps;

import io.orderpush.persistence.PersistenceException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM for secrets the gateway must be able to read back (webhook signing keys). The stored
 * form is nonce || ciphertext+tag; the associated data binds a ciphertext to its row.
 *
 * <p>Seals under the current key only; opens under the current key or any old key, so keys can be
 * rotated: configure the new key as current and the previous one as old, re-seal everything ({@link
 * SecretResealer}), then retire the old key. Each key has an id derived from it (a truncated
 * SHA-256, which says nothing about the key), stored beside every sealed secret so the right key is
 * picked and a dump shows which rows still need the old one.
 */
public final class SecretCipher {

  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;

  private final String currentId;
  private final Map<String, SecretKeySpec> keys = new LinkedHashMap<>();
  private final SecureRandom random = new SecureRandom();

  /**
   * @param key exactly 32 bytes
   */
  public SecretCipher(byte[] key) {
    this(key, List.of());
  }

  /**
   * @param current exactly 32 bytes: seals, and opens what it sealed
   * @param old 32-byte keys that only open (secrets sealed before a rotation)
   */
  public SecretCipher(byte[] current, List<byte[]> old) {
    currentId = keyId(current);
    keys.put(currentId, spec(current));
    for (byte[] k : old) {
      keys.putIfAbsent(keyId(k), spec(k));
    }
  }

  /**
   * The id of a key: {@code k} + 8 hex digits of SHA-256 over a label and the key. Public, like a
   * certificate fingerprint.
   */
  public static String keyId(byte[] key) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      d.update("orderpush secret key id\0".getBytes(StandardCharsets.US_ASCII));
      return "k" + HexFormat.of().formatHex(d.digest(key), 0, 4);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** The id of the key {@link #encrypt} seals under. */
  public String keyId() {
    return currentId;
  }

  /** Seals under the current key; store {@link #keyId()} beside the result. */
  public byte[] encrypt(byte[] plaintext, byte[] associatedData) {
    byte[] nonce = new byte[NONCE_BYTES];
    random.nextBytes(nonce);
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.ENCRYPT_MODE, keys.get(currentId), new GCMParameterSpec(TAG_BITS, nonce));
      cipher.updateAAD(associatedData);
      byte[] sealed = cipher.doFinal(plaintext);
      return ByteBuffer.allocate(NONCE_BYTES + sealed.length).put(nonce).put(sealed).array();
    } catch (GeneralSecurityException e) {
      throw new PersistenceException("encryption failed", e);
    }
  }

  /** Opens a secret whose key id is unknown (sealed before key ids were stored): tries each key. */
  public byte[] decrypt(byte[] stored, byte[] associatedData) {
    return decrypt(stored, null, associatedData);
  }

  /**
   * Opens a secret sealed under the key {@code keyId}; a null id tries every configured key.
   *
   * @throws SecretUnreadableException if that key is not configured or the secret does not open
   */
  public byte[] decrypt(byte[] stored, String keyId, byte[] associatedData) {
    if (stored.length <= NONCE_BYTES) {
      throw new PersistenceException(
          "stored secret is too short to decrypt (" + stored.length + " bytes)");
    }
    if (keyId != null) {
      SecretKeySpec key = keys.get(keyId);
      if (key == null) {
        throw new SecretUnreadableException(
            "stored secret is sealed under key "
                + keyId
                + ", which is neither the current key ("
                + currentId
                + ") nor one of the "
                + (keys.size() - 1)
                + " old keys configured",
            null);
      }
      return open(stored, key, associatedData, keyId);
    }
    SecretUnreadableException last = null;
    for (Map.Entry<String, SecretKeySpec> k : keys.entrySet()) {
      try {
        return open(stored, k.getValue(), associatedData, k.getKey());
      } catch (SecretUnreadableException e) {
        last = e;
      }
    }
    throw new SecretUnreadableException(
        "stored secret cannot be decrypted with any of the " + keys.size() + " configured keys",
        last);
  }

  private static byte[] open(byte[] stored, SecretKeySpec key, byte[] aad, String keyId) {
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, stored, 0, NONCE_BYTES));
      cipher.updateAAD(aad);
      return cipher.doFinal(stored, NONCE_BYTES, stored.length - NONCE_BYTES);
    } catch (GeneralSecurityException e) {
      throw new SecretUnreadableException(
          "stored secret cannot be decrypted with key " + keyId + " (damaged or another row's)", e);
    }
  }

  private static SecretKeySpec spec(byte[] key) {
    if (key.length != 32) {
      throw new IllegalArgumentException("secret key must be 32 bytes, was " + key.length);
    }
    return new SecretKeySpec(key.clone(), "AES");
  }
}
