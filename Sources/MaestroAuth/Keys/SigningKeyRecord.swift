import Foundation
import MaestroAuthModel
import MaestroProtos

/// One row of `auth.signing_keys`, private key still encrypted.
struct SigningKeyRecord: Sendable {
  var kid: String
  var state: KeyRotationSchedule.State
  /// The public JWK as JSON text.
  var publicJWK: String
  var ciphertext: Data
  var nonce: Data
  var masterKeyID: String
  var createdAt: Date
  var activatesAt: Date
  var retiresAt: Date?
  var purgeAt: Date?
  var revokedAt: Date?

  var scheduleKey: KeyRotationSchedule.Key {
    KeyRotationSchedule.Key(kid: self.kid, state: self.state, activatesAt: self.activatesAt, retiresAt: self.retiresAt, purgeAt: self.purgeAt, revokedAt: self.revokedAt)
  }

  /// Whether the key is in the JWKS at `now`.
  func isPublished(at now: Date) -> Bool {
    switch self.state {
    case .next, .active: true
    case .retired: (self.purgeAt ?? .distantFuture) > now
    case .revoked: false
    }
  }

  var jwk: Maestro_Auth_V1_JsonWebKey {
    var jwk = Maestro_Auth_V1_JsonWebKey()
    if let object = try? JSONSerialization.jsonObject(with: Data(self.publicJWK.utf8)) as? [String: Any] {
      jwk.kty = object["kty"] as? String ?? ""
      jwk.crv = object["crv"] as? String ?? ""
      jwk.x = object["x"] as? String ?? ""
      jwk.y = object["y"] as? String ?? ""
    }
    jwk.kid = self.kid
    jwk.alg = "ES256"
    jwk.use = "sig"
    return jwk
  }

  var proto: Maestro_Auth_V1_SigningKey {
    var key = Maestro_Auth_V1_SigningKey()
    key.kid = self.kid
    key.alg = "ES256"
    key.state =
      switch self.state {
      case .next: .next
      case .active: .active
      case .retired: .retired
      case .revoked: .revoked
      }
    key.publicKey = self.jwk
    key.createdAt = .init(date: self.createdAt)
    if self.state != .next { key.activatedAt = .init(date: self.activatesAt) }
    if let retiresAt = self.retiresAt, self.state == .retired || self.state == .revoked { key.retiredAt = .init(date: retiresAt) }
    if let purgeAt = self.purgeAt { key.verifyUntil = .init(date: purgeAt) }
    if let revokedAt = self.revokedAt { key.revokedAt = .init(date: revokedAt) }
    return key
  }
}
