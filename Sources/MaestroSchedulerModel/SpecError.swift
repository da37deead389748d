/// Why a schedule spec is invalid: a message for the caller, later prefixed with the field
/// path (`spec.cron_expressions[1]`) by whoever knows it.
public struct SpecError: Error, Sendable, Hashable, CustomStringConvertible {
  public var message: String
  /// The field at fault relative to the spec (`cron_expressions[1]`), when known.
  public var field: String?

  public init(_ message: String, field: String? = nil) {
    self.message = message
    self.field = field
  }

  public var description: String { self.field.map { "\($0): \(self.message)" } ?? self.message }
}
