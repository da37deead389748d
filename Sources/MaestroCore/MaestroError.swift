public import GRPCCore

/// The one error type that Maestro's domain code throws at its callers.
///
/// Every error carries a ``Code`` (the gRPC status it maps to), a message that is safe to show
/// to the caller, the request field that was wrong (for bad input), and an optional underlying
/// cause that is logged but never sent to the caller. The gateway maps the code to an HTTP
/// status in one place (``Code/httpStatus``).
public struct MaestroError: Error, Sendable, CustomStringConvertible {
  /// What kind of failure this is. Mirrors the gRPC status codes Maestro uses.
  public enum Code: String, Sendable, CaseIterable {
    case invalidArgument = "INVALID_ARGUMENT"
    case notFound = "NOT_FOUND"
    case alreadyExists = "ALREADY_EXISTS"
    case permissionDenied = "PERMISSION_DENIED"
    case unauthenticated = "UNAUTHENTICATED"
    case failedPrecondition = "FAILED_PRECONDITION"
    case aborted = "ABORTED"
    case resourceExhausted = "RESOURCE_EXHAUSTED"
    case deadlineExceeded = "DEADLINE_EXCEEDED"
    case unavailable = "UNAVAILABLE"
    case unimplemented = "UNIMPLEMENTED"
    case `internal` = "INTERNAL"
    case unknown = "UNKNOWN"
  }

  /// The failure's kind.
  public var code: Code
  /// A message for the caller: specific, and free of internal details.
  public var message: String
  /// The request field at fault (a path such as `steps[2].depends_on`), for bad input.
  public var field: String?
  /// The underlying error, for logs only: never part of ``message``.
  public var cause: (any Error)?

  public init(_ code: Code, _ message: String, field: String? = nil, cause: (any Error)? = nil) {
    self.code = code
    self.message = message
    self.field = field
    self.cause = cause
  }

  public var description: String {
    var text = "\(self.code.rawValue): \(self.message)"
    if let field = self.field { text += " (field: \(field))" }
    if let cause = self.cause { text += " [cause: \(cause)]" }
    return text
  }
}

extension MaestroError {
  /// Bad input in `field`: `message` says what was expected.
  public static func invalidArgument(field: String, _ message: String) -> Self {
    Self(.invalidArgument, "\(field): \(message)", field: field)
  }

  public static func notFound(_ message: String) -> Self { Self(.notFound, message) }

  public static func unauthenticated(_ message: String) -> Self { Self(.unauthenticated, message) }

  public static func permissionDenied(_ message: String) -> Self { Self(.permissionDenied, message) }

  public static func failedPrecondition(_ message: String) -> Self { Self(.failedPrecondition, message) }

  public static func unavailable(_ message: String, cause: (any Error)? = nil) -> Self {
    Self(.unavailable, message, cause: cause)
  }

  /// An internal failure: the caller sees only a generic message; `cause` goes to the log.
  public static func `internal`(cause: (any Error)? = nil) -> Self {
    Self(.internal, "internal error", cause: cause)
  }
}

extension MaestroError: RPCErrorConvertible {
  public var rpcErrorCode: RPCError.Code { self.code.rpcCode }
  public var rpcErrorMessage: String { self.message }
  public var rpcErrorMetadata: Metadata {
    guard let field = self.field else { return [:] }
    return ["maestro-field": .string(field)]
  }
  /// The cause travels with the `RPCError` for logging; only the code, message and metadata
  /// reach the caller.
  public var rpcErrorCause: (any Error)? { self.cause }
}
