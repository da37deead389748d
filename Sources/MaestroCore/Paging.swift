/// List paging: the page size callers may ask for and the opaque page token.
public enum Paging {
  public static let defaultPageSize = 50
  public static let maximumPageSize = 500

  /// The effective page size for a request's `page_size` (0 = default; negative is an error).
  public static func pageSize(_ requested: Int32) -> Int? {
    if requested < 0 { return nil }
    if requested == 0 { return self.defaultPageSize }
    return min(Int(requested), self.maximumPageSize)
  }
}

/// An opaque keyset cursor: the sort key of the last row of the previous page plus the list it
/// belongs to, so a token from one list is refused by another. Encoded as base64url text.
public struct PageCursor: Sendable, Hashable {
  /// The list this cursor belongs to, e.g. `users`.
  public var list: String
  /// The last row's sort-key values.
  public var values: [String]

  public init(list: String, values: [String]) {
    self.list = list
    self.values = values
  }

  public var token: String {
    let text = ([self.list] + self.values.map(Self.escape)).joined(separator: "\u{1F}")
    return Base64URL.encode(Array(text.utf8))
  }

  /// Decodes `token` for `list`; nil when it is malformed or belongs to another list.
  public init?(token: String, list: String, count: Int) {
    guard let bytes = Base64URL.decode(token), let text = String(validating: bytes, as: UTF8.self) else { return nil }
    let parts = text.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == count + 1, parts[0] == list else { return nil }
    self.list = list
    self.values = parts.dropFirst().map(Self.unescape)
  }

  private static func escape(_ value: String) -> String { String(value.map { $0 == "\u{1F}" ? " " : $0 }) }
  private static func unescape(_ value: String) -> String { value }
}
