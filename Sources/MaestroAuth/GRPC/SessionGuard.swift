import Foundation
public import MaestroCore
import MaestroAuthModel

/// The gateway's checks after a token's signature and claims verify: its session must not be
/// revoked and its key must not be withdrawn. Both lists are fed by NOTIFY, so a revocation on
/// any replica is enforced here within the notification latency (milliseconds; 1 s bound).
public struct SessionGuard: Sendable {
  let revocations: RevocationList
  let keyRing: KeyRing

  public init(revocations: RevocationList, keyRing: KeyRing) {
    self.revocations = revocations
    self.keyRing = keyRing
  }

  /// Throws UNAUTHENTICATED when `principal`'s session is revoked or `token`'s kid withdrawn.
  public func check(principal: Principal, token: String) throws(MaestroError) {
    if let sid = principal.sessionID, self.revocations.isRevoked(sid) {
      throw .unauthenticated("the session has been revoked")
    }
    if let kid = Self.keyID(of: token), self.keyRing.isRevoked(kid: kid) {
      throw .unauthenticated("token is signed with a withdrawn key")
    }
  }

  /// The `kid` of a compact JWS header, if readable.
  static func keyID(of token: String) -> String? {
    guard let dot = token.firstIndex(of: "."), let bytes = Base64URL.decode(String(token[..<dot])),
      let header = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
    else { return nil }
    return header["kid"] as? String
  }

  /// The `exp` of a verified token (for WhoAmI).
  static func expiry(of token: String) -> Date? {
    let parts = token.split(separator: ".")
    guard parts.count == 3, let bytes = Base64URL.decode(String(parts[1])),
      let payload = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
      let exp = payload["exp"] as? NSNumber
    else { return nil }
    return Date(timeIntervalSince1970: exp.doubleValue)
  }
}
