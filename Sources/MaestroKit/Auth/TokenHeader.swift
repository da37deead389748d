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
    guard let bytes = Base64URL.decode(String(parts[0])),
      case let data = Data(bytes),
      let header = try? JSONDecoder().decode(TokenHeader.self, from: data)
    else {
      throw .unauthenticated("token header is malformed")
    }
    self = header
  }
}
