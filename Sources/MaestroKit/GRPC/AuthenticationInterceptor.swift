public import GRPCCore
public import MaestroCore

/// Authenticates and authorises every RPC before its handler runs.
///
/// The method's requirement comes from the ``AccessPolicy``: public methods pass; others need
/// `authorization: Bearer <access token>`, verified by the ``TokenVerifier``; then the
/// principal's roles must grant the method's permission. Unmapped methods are denied (fail
/// closed). The verified ``Principal`` is added to ``RequestContext/current`` for the handler
/// and its response stream. Runs after ``RequestContextInterceptor``.
public struct AuthenticationInterceptor: ServerInterceptor {
  private let verifier: TokenVerifier
  private let policy: AccessPolicy

  public init(verifier: TokenVerifier, policy: AccessPolicy) {
    self.verifier = verifier
    self.policy = policy
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let method = context.descriptor.fullyQualifiedMethod
    if self.policy.requirement(for: method) == .public {
      return try await next(request, context)
    }

    let principal: Principal?
    if let token = Self.bearerToken(in: request.metadata) {
      principal = try await self.verifier.verify(token)
    } else {
      principal = nil
    }

    switch self.policy.decide(method: method, principal: principal) {
    case .allow:
      break
    case .denyUnauthenticated:
      throw MaestroError.unauthenticated("missing bearer token")
    case .denyUnmapped:
      throw MaestroError.permissionDenied("\(method) is not permitted")
    case .denyMissingPermission(let permission):
      throw MaestroError.permissionDenied("\(method) needs permission \(permission)")
    }

    var requestContext = RequestContext.current ?? RequestContext(requestID: RequestContext.makeRequestID())
    requestContext.principal = principal
    return try await requestContext.serve { try await next(request, context) }
  }

  /// The token of an `authorization: Bearer …` header, if present.
  static func bearerToken(in metadata: Metadata) -> String? {
    guard let value = metadata[stringValues: "authorization"].first(where: { _ in true }) else { return nil }
    let prefix = "bearer "
    guard value.count > prefix.count, value.prefix(prefix.count).lowercased() == prefix else { return nil }
    let token = value.dropFirst(prefix.count).drop { $0 == " " }
    return token.isEmpty ? nil : String(token)
  }
}
