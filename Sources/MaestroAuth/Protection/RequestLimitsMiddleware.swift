public import Hummingbird
import MaestroCore

/// The REST side's path and header limits, before routing: a path (with its query) longer
/// than ``RequestLimits/maxPathBytes`` is refused with 414, headers larger in total than
/// ``RequestLimits/maxHeaderBytes`` with 431, both in the error envelope. (Body sizes are
/// checked where bodies are read: 413.)
public struct RequestLimitsMiddleware<Context: RequestContext>: RouterMiddleware {
  let limits: RequestLimits

  public init(limits: RequestLimits) {
    self.limits = limits
  }

  public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
    let pathBytes = request.uri.description.utf8.count
    if pathBytes > self.limits.maxPathBytes {
      return RESTResponses.envelope(
        MaestroError(.invalidArgument, "request path is \(pathBytes) bytes; the limit is \(self.limits.maxPathBytes)"),
        status: .uriTooLong,
        requestID: RESTGateway.requestID(request)
      )
    }
    var headerBytes = 0
    for field in request.headers { headerBytes += field.name.rawName.utf8.count + field.value.utf8.count }
    if headerBytes > self.limits.maxHeaderBytes {
      return RESTResponses.envelope(
        MaestroError(.invalidArgument, "request headers are \(headerBytes) bytes; the limit is \(self.limits.maxHeaderBytes)"),
        status: .requestHeaderFieldsTooLarge,
        requestID: RESTGateway.requestID(request)
      )
    }
    do {
      return try await next(request, context)
    } catch let error as HTTPError where error.status == .notFound {
      return RESTResponses.envelope(MaestroError(.notFound, "no route for \(request.method.rawValue) \(request.uri.path)"), status: .notFound, requestID: RESTGateway.requestID(request))
    }
  }
}
