import MaestroCore
import MaestroWorkflowModel

/// workflow-service's page tokens: base64url JSON of the last row's sort key. The page-size
/// policy is the one every service shares (``Paging/pageSize(_:)`` in MaestroCore).
extension Paging {
  /// The effective page size; a negative one is an INVALID_ARGUMENT on `page_size`.
  static func size(_ requested: Int32) throws(MaestroError) -> Int {
    guard let size = self.pageSize(requested) else { throw .invalidArgument(field: "page_size", "must not be negative") }
    return size
  }

  static func encode(_ key: JSONValue) -> String {
    Base64URL.encode(Array(key.jsonText.utf8))
  }

  /// The key in `token`, nil for an empty token; a token that was not issued by us is an error.
  static func decode(_ token: String) throws(MaestroError) -> JSONValue? {
    guard !token.isEmpty else { return nil }
    guard token.count <= 512, let bytes = Base64URL.decode(token),
      let key = try? JSONValue(jsonText: String(decoding: bytes, as: UTF8.self)), case .object = key
    else {
      throw .invalidArgument(field: "page_token", "is not a token returned by a previous page")
    }
    return key
  }
}

extension JSONValue {
  var stringValue: String? { if case .string(let value) = self { value } else { nil } }
  var numberValue: Double? { if case .number(let value) = self { value } else { nil } }
}
