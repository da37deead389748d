public import GRPCCore
import MaestroCore
import MaestroKit

/// The gRPC side of the gateway's protection, after authentication: the metadata size
/// limit, then the caller's rate limits and its tenant's in-flight limit. Refusals are
/// RESOURCE_EXHAUSTED with a `retry-after` (seconds) entry in the trailers. Public methods
/// (health, token) carry no principal and are limited only in size.
public struct ProtectionInterceptor: ServerInterceptor {
  let limiter: RateLimiter
  let limits: RequestLimits

  public init(limiter: RateLimiter, limits: RequestLimits) {
    self.limiter = limiter
    self.limits = limits
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    var headerBytes = 0
    for (key, value) in request.metadata {
      switch value {
      case .string(let string): headerBytes += key.utf8.count + string.utf8.count
      case .binary(let bytes): headerBytes += key.utf8.count + bytes.count
      }
    }
    if headerBytes > self.limits.maxHeaderBytes {
      throw RPCError(code: .resourceExhausted, message: "request metadata is \(headerBytes) bytes; the limit is \(self.limits.maxHeaderBytes)")
    }
    guard let principal = RequestContext.current?.principal else {
      return try await next(request, context)
    }
    if let refusal = self.limiter.admit(principal) {
      throw RPCError(
        code: .resourceExhausted,
        message: refusal.error.message,
        metadata: ["retry-after": .string(String(refusal.retryAfterSeconds))]
      )
    }
    let limiter = self.limiter
    let tenant = principal.tenant
    var response: StreamingServerResponse<Output>
    do {
      response = try await next(request, context)
    } catch {
      limiter.release(tenant: tenant)
      throw error
    }
    // The slot is held until the response (a stream included) has been produced.
    switch response.accepted {
    case .success(var contents):
      let producer = contents.producer
      contents.producer = { writer in
        defer { limiter.release(tenant: tenant) }
        return try await producer(writer)
      }
      response.accepted = .success(contents)
    case .failure:
      limiter.release(tenant: tenant)
    }
    return response
  }
}
