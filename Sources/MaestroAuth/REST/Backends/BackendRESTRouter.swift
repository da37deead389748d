import Foundation
import GRPCCore
public import Hummingbird
public import Logging
import MaestroCore
import MaestroKit
import NIOCore

/// The REST front door to the backends: matches ``BackendRoute``s (before the identity
/// routes), then authenticates, authorises with the RPC's permission, applies the rate
/// limits, builds the request message, forwards it through the ``Forwarder`` and answers
/// with the response message as canonical JSON, or the one error envelope.
public struct BackendRESTRouter: RouterMiddleware {
  public typealias Context = GatewayRequestContext

  let routes: [BackendRoute]
  let gateway: RESTGateway
  let forwarder: Forwarder
  let limiter: RateLimiter
  let limits: RequestLimits
  /// The deadline of a REST call that sends no `grpc-timeout` header.
  let defaultTimeout: Duration
  let logger: Logger

  public init(
    routes: [BackendRoute] = BackendRoute.maestro,
    gateway: RESTGateway,
    forwarder: Forwarder,
    limiter: RateLimiter,
    limits: RequestLimits,
    defaultTimeout: Duration = .seconds(60),
    logger: Logger
  ) {
    self.logger = logger
    self.routes = routes
    self.gateway = gateway
    self.forwarder = forwarder
    self.limiter = limiter
    self.limits = limits
    self.defaultTimeout = defaultTimeout
  }

  /// The route and path parameters for `method` and `path`; the most specific template wins.
  func match(method: String, path: Substring) -> (BackendRoute, [String: String])? {
    var best: (BackendRoute, [String: String])?
    for route in self.routes where route.httpMethod == method {
      guard let parameters = route.path.match(path) else { continue }
      if best == nil || route.path.specificity > best!.0.path.specificity { best = (route, parameters) }
    }
    return best
  }

  public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
    let path = Substring(request.uri.path)
    guard let (route, parameters) = self.match(method: request.method.rawValue, path: path) else {
      if self.routes.contains(where: { $0.path.match(path) != nil }) {
        return RESTResponses.envelope(
          MaestroError(.unimplemented, "\(request.method.rawValue) is not supported on \(path)"),
          status: .methodNotAllowed,
          requestID: RESTGateway.requestID(request),
          headers: [.allow: self.routes.filter { $0.path.match(path) != nil }.map(\.httpMethod).joined(separator: ", ")]
        )
      }
      return try await next(request, context)
    }
    let requestID = RESTGateway.requestID(request)
    let fullMethod = route.method.fullyQualifiedMethod
    let backend = self.forwarder.catalog.service(forMethod: fullMethod)?.backend ?? "unknown"
    let started = ContinuousClock.now
    var admittedTenant: String?
    defer { if let admittedTenant { self.limiter.release(tenant: admittedTenant) } }
    do {
      let call = try await self.gateway.authorize(request, context: context, fullMethod: fullMethod, requestID: requestID)
      let requestContext = RequestContext(requestID: requestID, principal: call.principal)
      if let principal = call.principal {
        if let refusal = self.limiter.admit(principal) {
          return RESTResponses.envelope(refusal.error, status: .tooManyRequests, requestID: requestID, headers: [.retryAfter: String(refusal.retryAfterSeconds)])
        }
        admittedTenant = principal.tenant
      }
      var request = request
      let message = try await RESTRequestBuilder(route: route, parameters: parameters).build(&request, maxBodyBytes: self.limits.maxBodyBytes)
      let metadata = Self.metadata(from: request.headers)
      let timeout = ForwardedMetadata.timeout(in: metadata) ?? (route.serverSentEvents ? nil : self.defaultTimeout)
      if route.serverSentEvents {
        let response = try await RequestContext.$current.withValue(requestContext) {
          try await self.events(route: route, message: message, metadata: metadata, parameters: parameters, requestID: requestID, backend: backend, request: request)
        }
        // The in-flight slot is released when the stream ends (see `events`).
        admittedTenant = nil
        return response
      }
      let exchange = try await RequestContext.$current.withValue(requestContext) {
        try await self.forwarder.exchange(method: route.method, backend: backend, metadata: metadata, messages: .one(message), timeout: timeout)
      }
      guard let first = exchange.messages.first else {
        throw RPCError(code: .internalError, message: "backend sent no response message")
      }
      let json = try route.decodeResponse(first)
      RequestContext.$current.withValue(requestContext) {
        self.forwarder.report(.rest, method: fullMethod, backend: backend, code: nil, started: started)
      }
      var headers = HTTPFields()
      headers[HeaderName("x-request-id")!] = requestID
      return RESTResponses.json(json, headers: headers)
    } catch {
      self.forwarder.report(.rest, method: fullMethod, backend: backend, code: Forwarder.code(of: error), started: started)
      return RESTResponses.error(error, requestID: requestID, logger: context.logger)
    }
  }

  /// The gRPC metadata a REST request carries to the backend.
  static func metadata(from headers: HTTPFields) -> Metadata {
    var metadata = Metadata()
    for name in ["authorization", "traceparent", "tracestate", "x-maestro-tenant", "grpc-timeout", "idempotency-key"] {
      if let value = headers[HeaderName(name)!] { metadata.addString(value, forKey: name) }
    }
    return metadata
  }
}

extension RPCAsyncSequence where Element == [UInt8], Failure == any Error {
  /// A sequence of exactly one message.
  static func one(_ message: [UInt8]) -> Self {
    let (stream, continuation) = AsyncThrowingStream.makeStream(of: [UInt8].self)
    continuation.yield(message)
    continuation.finish()
    return RPCAsyncSequence(wrapping: stream)
  }
}
