/// An Alertmanager-style label matcher (`name`, operator, `value`). Regular expressions are
/// fully anchored, as in Alertmanager. A missing label matches as the empty string.
struct LabelMatcher: Sendable, Hashable {
  enum Operator: String, Sendable, Hashable {
    case equal = "="
    case notEqual = "!="
    case regex = "=~"
    case notRegex = "!~"
  }

  var name: String
  var op: Operator
  var value: String

  /// Fails with a message when a regex does not compile.
  init(name: String, op: Operator, value: String) throws(MatcherError) {
    guard !name.isEmpty else { throw MatcherError(message: "a matcher needs a label name") }
    if op == .regex || op == .notRegex {
      do { _ = try Regex("^(?:" + value + ")$") } catch { throw MatcherError(message: "invalid regular expression '\(value)'") }
    }
    self.name = name
    self.op = op
    self.value = value
  }

  func matches(_ labels: [String: String]) -> Bool {
    let actual = labels[self.name] ?? ""
    switch self.op {
    case .equal: return actual == self.value
    case .notEqual: return actual != self.value
    case .regex: return Self.fullMatch(actual, self.value)
    case .notRegex: return !Self.fullMatch(actual, self.value)
    }
  }

  private static func fullMatch(_ text: String, _ pattern: String) -> Bool {
    guard let regex = try? Regex("^(?:" + pattern + ")$") else { return false }
    return (try? regex.wholeMatch(in: text)) != nil
  }

  /// All of `matchers` match (an empty list matches everything).
  static func all(_ matchers: [LabelMatcher], match labels: [String: String]) -> Bool {
    matchers.allSatisfy { $0.matches(labels) }
  }
}

struct MatcherError: Error, Sendable, CustomStringConvertible {
  var message: String
  var description: String { self.message }
}

/// A stable hash of an alert's identity: FNV-1a 64 over the sorted labels, as 16 hex digits
/// (the same idea as Prometheus' label fingerprints).
enum Fingerprint {
  static func of(_ labels: [String: String]) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for (name, value) in labels.sorted(by: { $0.key < $1.key }) {
      for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
      hash = (hash ^ 0xFF) &* 0x0000_0100_0000_01B3
      for byte in value.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
      hash = (hash ^ 0xFE) &* 0x0000_0100_0000_01B3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }
}
