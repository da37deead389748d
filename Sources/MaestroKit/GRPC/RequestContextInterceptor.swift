public import GRPCCore
public import Logging
import MaestroCore

/// The outermost server interceptor: gives each RPC a request id (the caller's `x-request-id`
/// if valid, else a new one) as ``RequestContext/current`` for the handler and its response
/// stream, echoes it in the response metadata, records metrics, and logs failures with the
/// request id. Errors that are not `RPCError`-convertible reach the caller as UNKNOWN with the
/// request id and no internals.
public struct RequestContextInterceptor: ServerInterceptor {
  private let logger: Logger
  private let metrics: RPCMetrics

  public init(logger: Logger, metrics: RPCMetrics) {
    self.logger = logger
    self.metrics = metrics
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let supplied = request.metadata[stringValues: RequestContext.requestIDKey].first { _ in true }
    let requestID = supplied.flatMap { RequestContext.isValidRequestID($0) ? $0 : nil } ?? RequestContext.makeRequestID()
    let requestContext = RequestContext(requestID: requestID)
    let method = context.descriptor.fullyQualifiedMethod
    let started = ContinuousClock.now
    let logger = self.logger
    let metrics = self.metrics

    @Sendable func fail(_ error: any Error) -> RPCError {
      let rpcError = Self.rpcError(for: error, requestID: requestID, method: method, logger: logger)
      metrics.record(method: method, code: rpcError.code, duration: ContinuousClock.now - started)
      return rpcError
    }

    var response: StreamingServerResponse<Output>
    do {
      response = try await RequestContext.$current.withValue(requestContext) {
        try await next(request, context)
      }
    } catch {
      throw fail(error)
    }
    response.metadata.replaceOrAddString(requestID, forKey: RequestContext.requestIDKey)

    switch response.accepted {
    case .success(var contents):
      let producer = contents.producer
      contents.producer = { writer in
        do {
          let trailers = try await RequestContext.$current.withValue(requestContext) {
            try await producer(writer)
          }
          metrics.record(method: method, code: nil, duration: ContinuousClock.now - started)
          return trailers
        } catch {
          throw fail(error)
        }
      }
      response.accepted = .success(contents)
    case .failure(let error):
      response.accepted = .failure(fail(error))
    }
    return response
  }

  /// The error the caller sees, logging what it hides: internal and unknown errors reach the
  /// caller only as "internal error (request id …)"; their details go to the log.
  private static func rpcError(
    for thrown: any Error,
    requestID: String,
    method: String,
    logger: Logger
  ) -> RPCError {
    var error = thrown
    // grpc-swift turns an error thrown beneath an inner interceptor into UNKNOWN with an empty
    // message and the original as cause: look through it.
    if let wrapped = error as? RPCError, wrapped.code == .unknown, wrapped.message.isEmpty, let cause = wrapped.cause {
      error = cause
    }
    let rpcError: RPCError
    if let maestro = error as? MaestroError {
      rpcError = RPCError(maestro)
    } else if let direct = error as? RPCError {
      rpcError = direct
    } else if let convertible = error as? any RPCErrorConvertible {
      rpcError = RPCError(convertible)
    } else {
      rpcError = RPCError(code: .unknown, message: "", cause: error)
    }

    var metadata: Logger.Metadata = ["request_id": "\(requestID)", "method": "\(method)", "code": "\(rpcError.code)"]
    guard rpcError.code == .internalError || rpcError.code == .unknown else {
      metadata["error"] = "\(rpcError.message)"
      logger.debug("RPC rejected", metadata: metadata)
      return rpcError
    }
    metadata["error"] = "\(error)"
    if let cause = rpcError.cause { metadata["cause"] = "\(cause)" }
    logger.error("RPC failed", metadata: metadata)
    return RPCError(code: rpcError.code, message: "internal error (request id \(requestID))")
  }
}
