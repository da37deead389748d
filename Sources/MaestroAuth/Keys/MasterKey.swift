import Crypto
public import Foundation
public import MaestroKit

/// The 256-bit key that encrypts signing keys at rest (AES-256-GCM, the kid as associated data,
/// so a ciphertext cannot be moved to another row).
///
/// Loaded from `MAESTRO_MASTER_KEY` (base64 of 32 bytes) or `MAESTRO_MASTER_KEY_FILE` (a file
/// holding the same base64 text). Its id, stored with every row, is a short hash of the key,
/// so rows encrypted under another master key are recognised rather than mis-decrypted.
public struct MasterKey: Sendable {
  let key: SymmetricKey
  /// A fingerprint of the key (first 8 bytes of SHA-256, hex): safe to store and log.
  public let id: String

  public init(bytes: some DataProtocol) throws(ConfigurationError) {
    guard bytes.count == 32 else {
      throw ConfigurationError(setting: "MAESTRO_MASTER_KEY", message: "must be 32 bytes (base64), got \(bytes.count)")
    }
    self.key = SymmetricKey(data: Data(bytes))
    self.id = SHA256.hash(data: Data(bytes)).prefix(8).map { String(format: "%02x", $0) }.joined()
  }

  /// A random key (tests, benchmarks).
  public static func random() -> MasterKey {
    // 32 random bytes always make a valid key.
    try! MasterKey(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
  }

  /// The key from `MAESTRO_MASTER_KEY` or `MAESTRO_MASTER_KEY_FILE`.
  public static func fromEnvironment(_ environment: [String: String]) throws(ConfigurationError) -> MasterKey {
    let setting: String
    let text: String
    if let value = environment["MAESTRO_MASTER_KEY"], !value.isEmpty {
      setting = "MAESTRO_MASTER_KEY"
      text = value
    } else if let path = environment["MAESTRO_MASTER_KEY_FILE"], !path.isEmpty {
      setting = "MAESTRO_MASTER_KEY_FILE"
      guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw ConfigurationError(setting: setting, message: "cannot read \(path)")
      }
      text = contents
    } else {
      throw ConfigurationError(
        setting: "MAESTRO_MASTER_KEY",
        message: "a master key is required to encrypt signing keys: set MAESTRO_MASTER_KEY (base64 of 32 random bytes, e.g. `openssl rand -base64 32`) or MAESTRO_MASTER_KEY_FILE"
      )
    }
    guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
      throw ConfigurationError(setting: setting, message: "is not valid base64")
    }
    do {
      return try MasterKey(bytes: bytes)
    } catch {
      throw ConfigurationError(setting: setting, message: error.message)
    }
  }

  /// Encrypts `plaintext` bound to `kid`: returns (ciphertext‖tag, nonce).
  func seal(_ plaintext: Data, kid: String) throws -> (ciphertext: Data, nonce: Data) {
    let box = try AES.GCM.seal(plaintext, using: self.key, authenticating: Data(kid.utf8))
    return (box.ciphertext + box.tag, Data(box.nonce))
  }

  /// Decrypts what ``seal(_:kid:)`` made; throws when the key, kid or bytes do not match.
  func open(ciphertext: Data, nonce: Data, kid: String) throws -> Data {
    guard ciphertext.count >= 16 else { throw CryptoKitError.incorrectParameterSize }
    let box = try AES.GCM.SealedBox(
      nonce: AES.GCM.Nonce(data: nonce),
      ciphertext: ciphertext.prefix(ciphertext.count - 16),
      tag: ciphertext.suffix(16)
    )
    return try AES.GCM.open(box, using: self.key, authenticating: Data(kid.utf8))
  }
}
