/// Parses human-written durations: `250ms`, `10s`, `5m`, `1h30m`, `2d`, or a bare number of
/// seconds. Used for configuration and definitions alike, so both reject the same inputs.
public enum DurationParser {
  /// Why a duration did not parse.
  public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
    public var input: String
    public var reason: String
    public var description: String { "invalid duration '\(self.input)': \(self.reason)" }
  }

  private static let units: [(suffix: String, seconds: Double)] = [
    ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400),
  ]

  /// The duration `text` denotes; throws ``Failure`` for anything else (negative, empty, an
  /// unknown unit, or more than 10 years).
  public static func parse(_ text: String) throws(Failure) -> Duration {
    let trimmed = text.trimmingWhitespace()
    guard !trimmed.isEmpty else { throw Failure(input: text, reason: "empty") }
    if let seconds = Double(trimmed) {
      return try self.checked(seconds: seconds, input: text)
    }
    var total = 0.0
    var rest = Substring(trimmed)
    while !rest.isEmpty {
      let digits = rest.prefix { $0.isNumber || $0 == "." }
      guard !digits.isEmpty, let value = Double(digits) else {
        throw Failure(input: text, reason: "expected a number at '\(rest)'")
      }
      rest = rest.dropFirst(digits.count)
      let unitText = rest.prefix { $0.isLetter }
      guard let unit = self.units.first(where: { $0.suffix == unitText }) else {
        throw Failure(input: text, reason: "unknown unit '\(unitText)' (use ms, s, m, h or d)")
      }
      rest = rest.dropFirst(unitText.count)
      total += value * unit.seconds
    }
    return try self.checked(seconds: total, input: text)
  }

  private static func checked(seconds: Double, input: String) throws(Failure) -> Duration {
    guard seconds.isFinite, seconds >= 0 else { throw Failure(input: input, reason: "must not be negative") }
    guard seconds <= 10 * 365 * 86_400 else { throw Failure(input: input, reason: "longer than 10 years") }
    return .milliseconds(Int64((seconds * 1000).rounded()))
  }
}

extension String {
  func trimmingWhitespace() -> String {
    var scalars = Substring(self)
    while let first = scalars.first, first.isWhitespace { scalars = scalars.dropFirst() }
    while let last = scalars.last, last.isWhitespace { scalars = scalars.dropLast() }
    return String(scalars)
  }
}
