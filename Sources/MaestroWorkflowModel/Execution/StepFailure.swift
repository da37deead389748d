/// Why a step attempt failed. The error class picks the retry budget (as Netflix Maestro does).
public struct StepFailure: Sendable, Hashable, Error {
  public enum ErrorClass: String, Sendable, Hashable, CaseIterable {
    /// The workflow's own fault: bad input, a `fail` step, a failed expression.
    case user
    /// The platform's or a dependency's fault: worth retrying.
    case platform
    /// The attempt ran out of time.
    case timeout
    /// The run was cancelled under it.
    case cancelled
  }

  public var message: String
  public var errorClass: ErrorClass
  /// A caller-defined failure type, matched against `non_retryable_error_types`.
  public var type: String
  public var nonRetryable: Bool

  public init(_ message: String, errorClass: ErrorClass, type: String = "", nonRetryable: Bool = false) {
    self.message = message
    self.errorClass = errorClass
    self.type = type
    self.nonRetryable = nonRetryable
  }

  /// As stored in `error` columns and event payloads.
  public var json: JSONValue {
    .object([
      "message": .string(self.message),
      "error_class": .string(self.errorClass.rawValue),
      "type": .string(self.type),
      "non_retryable": .bool(self.nonRetryable),
    ])
  }

  /// From its stored form.
  public init?(json: JSONValue) {
    guard case .string(let message) = json["message"] ?? .null else { return nil }
    self.message = message
    if case .string(let raw) = json["error_class"] ?? .null, let errorClass = ErrorClass(rawValue: raw) {
      self.errorClass = errorClass
    } else {
      self.errorClass = .platform
    }
    if case .string(let type) = json["type"] ?? .null { self.type = type } else { self.type = "" }
    self.nonRetryable = json["non_retryable"] == .bool(true)
  }
}
