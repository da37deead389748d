/// A JSON claim value of an external ID token, as far as claim mapping cares.
public enum ClaimValue: Sendable, Hashable, Decodable {
  case string(String)
  case strings([String])
  case bool(Bool)
  case number(Double)
  case other

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([String].self) {
      self = .strings(value)
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Double.self) {
      self = .number(value)
    } else {
      self = .other
    }
  }

  /// The value as a list of strings (a single string becomes one element; space-separated
  /// scope-style strings are not split).
  public var stringList: [String] {
    switch self {
    case .string(let value): [value]
    case .strings(let values): values
    default: []
    }
  }

  public var stringValue: String? {
    if case .string(let value) = self { return value }
    return nil
  }
}
