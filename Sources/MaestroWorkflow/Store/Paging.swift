import Foundation
import MaestroCore
import MaestroWorkflowModel

/// Page sizes and opaque page tokens (base64url JSON of the last row's sort key).
enum Paging {
  static let defaultSize = 50
  static let maximumSize = 500

  /// The effective page size; 0 = default, above the maximum is capped, negative is an error.
  static func size(_ requested: Int32) throws(MaestroError) -> Int {
    guard requested >= 0 else { throw .invalidArgument(field: "page_size", "must not be negative") }
    return requested == 0 ? self.defaultSize : min(Int(requested), self.maximumSize)
  }

  static func encode(_ key: JSONValue) -> String {
    Data(key.jsonText.utf8).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
  }

  /// The key in `token`, nil for an empty token; a token that was not issued by us is an error.
  static func decode(_ token: String) throws(MaestroError) -> JSONValue? {
    guard !token.isEmpty else { return nil }
    var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    if base64.count % 4 != 0 { base64 += String(repeating: "=", count: 4 - base64.count % 4) }
    guard token.count <= 512, let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
      let key = try? JSONValue(jsonText: text), case .object = key
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
