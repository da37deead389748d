import Foundation
import MaestroCore

/// The JOSE header of a compact JWS, decoded before any key is touched so that `alg: none`,
/// missing `kid` and disallowed algorithms are rejected up front.
struct TokenHeader: Decodable {
  var algorithm: String
  var keyID: String?
  var type: String?

  enum CodingKeys: String, CodingKey {
    case algorithm = "alg"
    case keyID = "kid"
    case type = "typ"
  }

  init(compact token: String) throws(MaestroError) {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3, token.utf8.count <= 16 * 1024 else {
      throw .unauthenticated("token is not a compact JWS")
    }
    guard let data = Data(base64URLEncoded: String(parts[0])),
      let header = try? JSONDecoder().decode(TokenHeader.self, from: data)
    else {
      throw .unauthenticated("token header is malformed")
    }
    self = header
  }
}

extension Data {
  /// Decodes unpadded base64url (RFC 4648 §5).
  init?(base64URLEncoded text: String) {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    let remainder = base64.count % 4
    if remainder == 1 { return nil }
    if remainder > 0 { base64 += String(repeating: "=", count: 4 - remainder) }
    self.init(base64Encoded: base64)
  }
}
