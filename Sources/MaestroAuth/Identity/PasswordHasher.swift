import MaestroCore
import Crypto
import CryptoExtras
import Foundation
import MaestroAuthModel

/// scrypt password hashing (RFC 7914) with per-row parameters, and constant-time comparison.
struct PasswordHasher: Sendable {
  var parameters: ScryptParameters

  struct Hash: Sendable {
    var hash: Data
    var salt: Data
    var parameters: ScryptParameters
  }

  /// A new salted hash of `password`.
  func hash(_ password: String) throws -> Hash {
    var salt = Data(count: 16)
    salt.withUnsafeMutableBytes { buffer in
      var generator = SystemRandomNumberGenerator()
      for index in buffer.indices { buffer[index] = UInt8.random(in: 0...255, using: &generator) }
    }
    return Hash(hash: try Self.derive(password, salt: salt, parameters: self.parameters), salt: salt, parameters: self.parameters)
  }

  /// Whether `password` matches `stored`.
  static func verify(_ password: String, against stored: Hash) throws -> Bool {
    guard stored.parameters.isAcceptable else { return false }
    let candidate = try self.derive(password, salt: stored.salt, parameters: stored.parameters)
    return constantTimeEquals(candidate, stored.hash)
  }

  static func derive(_ password: String, salt: Data, parameters: ScryptParameters) throws -> Data {
    let key = try KDF.Scrypt.deriveKey(
      from: Data(password.utf8), salt: salt, outputByteCount: parameters.keyLength,
      rounds: parameters.n, blockSize: parameters.r, parallelism: parameters.p
    )
    return key.withUnsafeBytes { Data($0) }
  }
}

/// Compares two byte strings in time independent of where they differ.
func constantTimeEquals(_ lhs: Data, _ rhs: Data) -> Bool {
  guard lhs.count == rhs.count else { return false }
  var difference: UInt8 = 0
  for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
  return difference == 0
}

/// High-entropy secrets (client secrets, refresh tokens, generated passwords) and their hashes.
enum Secrets {
  /// `byteCount` random bytes as base64url text.
  static func random(byteCount: Int = 32) -> String {
    var generator = SystemRandomNumberGenerator()
    return Base64URL.encode((0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
  }

  /// SHA-256 of `secret` (what the database stores for client secrets and refresh tokens).
  static func sha256(_ secret: String) -> Data {
    Data(SHA256.hash(data: Data(secret.utf8)))
  }
}
