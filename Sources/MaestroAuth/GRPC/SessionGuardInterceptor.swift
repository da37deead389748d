public import GRPCCore
import MaestroCore
import MaestroKit

/// Runs after MaestroKit's authentication interceptor on the gateway: refuses tokens of
/// revoked sessions and withdrawn keys (see ``SessionGuard``).
public struct SessionGuardInterceptor: ServerInterceptor {
  let sessionGuard: SessionGuard

  public init(sessionGuard: SessionGuard) {
    self.sessionGuard = sessionGuard
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    if let principal = RequestContext.current?.principal, let token = AuthGRPCService.bearerToken(in: request.metadata) {
      try self.sessionGuard.check(principal: principal, token: token)
    }
    return try await next(request, context)
  }
}
