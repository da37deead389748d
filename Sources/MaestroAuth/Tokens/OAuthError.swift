public import GRPCCore
public import MaestroCore

/// An OAuth 2.0 token-endpoint error (RFC 6749 §5.2): REST answers
/// `{"error": code, "error_description": description}` with ``httpStatus``; gRPC carries
/// `"<code>: <description>"` with the matching status code.
public struct OAuthError: Error, Sendable, Equatable {
  public enum Code: String, Sendable {
    case invalidRequest = "invalid_request"
    case invalidClient = "invalid_client"
    case invalidGrant = "invalid_grant"
    case unauthorizedClient = "unauthorized_client"
    case unsupportedGrantType = "unsupported_grant_type"
    case invalidScope = "invalid_scope"
    case invalidTarget = "invalid_target"
    /// Throttled by brute-force protection or the session limit (HTTP 429).
    case tooManyRequests = "too_many_requests"
    case temporarilyUnavailable = "temporarily_unavailable"
    case serverError = "server_error"
  }

  public var code: Code
  public var description: String
  /// Seconds until a throttled caller may retry.
  public var retryAfter: Int?

  public init(_ code: Code, _ description: String, retryAfter: Int? = nil) {
    self.code = code
    self.description = description
    self.retryAfter = retryAfter
  }

  public var httpStatus: Int {
    switch self.code {
    case .invalidClient: 401
    case .tooManyRequests: 429
    case .temporarilyUnavailable: 503
    case .serverError: 500
    default: 400
    }
  }

  /// The same error for gRPC callers.
  public var maestroError: MaestroError {
    let code: MaestroError.Code =
      switch self.code {
      case .invalidClient, .invalidGrant, .unauthorizedClient: .unauthenticated
      case .tooManyRequests: .resourceExhausted
      case .temporarilyUnavailable: .unavailable
      case .serverError: .internal
      default: .invalidArgument
      }
    return MaestroError(code, "\(self.code.rawValue): \(self.description)")
  }
}

extension OAuthError: RPCErrorConvertible {
  public var rpcErrorCode: RPCError.Code { self.maestroError.rpcErrorCode }
  public var rpcErrorMessage: String { self.maestroError.message }
}
