public import MaestroCore

/// What is known about the request a task is serving: its id and, once verified, its caller.
///
/// Set by the server interceptors as a task local around the handler, read by handlers, the
/// log handler (which adds `request_id` to every line) and client interceptors (which forward
/// the request id to the next service).
public struct RequestContext: Sendable {
  /// The request id: taken from the caller's `x-request-id`, else generated.
  public var requestID: String
  /// The verified caller; nil before authentication and for public methods.
  public var principal: Principal?

  public init(requestID: String, principal: Principal? = nil) {
    self.requestID = requestID
    self.principal = principal
  }

  /// The context of the current task, if it is serving a request.
  @TaskLocal public static var current: RequestContext?

  /// The metadata key that carries the request id between services.
  public static let requestIDKey = "x-request-id"

  /// A new random request id.
  public static func makeRequestID() -> String {
    var generator = SystemRandomNumberGenerator()
    let high = generator.next() as UInt64
    let low = generator.next() as UInt64
    return String(high, radix: 16).leftPadded(to: 16) + String(low, radix: 16).leftPadded(to: 16)
  }

  /// Whether `candidate` is acceptable as a caller-supplied request id (bounded, printable).
  public static func isValidRequestID(_ candidate: String) -> Bool {
    !candidate.isEmpty && candidate.utf8.count <= 128
      && candidate.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
  }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String {
    self.count >= width ? self : String(repeating: "0", count: width - self.count) + self
  }
}
