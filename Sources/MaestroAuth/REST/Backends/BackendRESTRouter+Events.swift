import Foundation
import GRPCCore
import Hummingbird
import MaestroCore
import MaestroKit
import MaestroProtos
import NIOCore

extension BackendRESTRouter {
  /// `GET /v1/runs/{id}/events`: the run's events as Server-Sent Events, live. Each event is
  /// `id: <sequence>` and `data: <WatchRunResponse JSON>`; the stream ends with
  /// `event: end` when the run is finished, or `event: error` with the error envelope.
  /// `Last-Event-ID` (or `?from_sequence=`) resumes after that sequence.
  ///
  /// The run is looked up first (GetRun), so a missing run, another tenant's run or an
  /// unreachable backend is an ordinary error response rather than a broken stream.
  func events(
    route: BackendRoute,
    message: [UInt8],
    metadata: Metadata,
    parameters: [String: String],
    requestID: String,
    backend: String,
    request: Request
  ) async throws -> Response {
    var watch = try Maestro_Workflow_V1_WatchRunRequest(serializedBytes: message)
    if let lastEventID = request.headers[HeaderName("last-event-id")!], let sequence = Int64(lastEventID) {
      watch.fromSequence = sequence
    }
    let getRun = Maestro_Workflow_V1_GetRunRequest.with { $0.runID = watch.runID }
    _ = try await self.forwarder.exchange(
      method: Maestro_Workflow_V1_WorkflowService.Method.GetRun.descriptor,
      backend: backend,
      metadata: metadata,
      messages: .one(try getRun.serializedBytes()),
      timeout: self.defaultTimeout
    )
    let watchBytes: [UInt8] = try watch.serializedBytes()
    let forwarder = self.forwarder
    let limiter = self.limiter
    let tenant = RequestContext.current?.principal?.tenant
    let requestContext = RequestContext.current
    let method = route.method
    let logger = self.logger
    var headers = HTTPFields()
    headers[.contentType] = "text/event-stream"
    headers[.cacheControl] = "no-cache"
    headers[HeaderName("x-request-id")!] = requestID
    headers[HeaderName("x-accel-buffering")!] = "no"
    let body = ResponseBody { writer in
      defer { if let tenant { limiter.release(tenant: tenant) } }
      let (events, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          do {
            _ = try await RequestContext.$current.withValue(requestContext) {
              try await forwarder.stream(method: method, backend: backend, metadata: metadata, messages: .one(watchBytes), timeout: nil) { message in
                continuation.yield(ByteBuffer(string: try Self.serverSentEvent(route: route, message: message)))
              }
            }
            continuation.yield(ByteBuffer(string: "event: end\ndata: {}\n\n"))
            continuation.finish()
          } catch {
            let (resolved, _) = RESTResponses.resolve(error, requestID: requestID, logger: logger)
            let data = (try? JSONSerialization.data(withJSONObject: RESTResponses.envelopeObject(resolved), options: [.sortedKeys])) ?? Data("{}".utf8)
            continuation.yield(ByteBuffer(string: "event: error\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
            continuation.finish()
          }
        }
        for try await event in events {
          try await writer.write(event)
        }
        group.cancelAll()
      }
      try await writer.finish(nil)
    }
    return Response(status: .ok, headers: headers, body: body)
  }

  /// One response message as an SSE event.
  static func serverSentEvent(route: BackendRoute, message: [UInt8]) throws -> String {
    let json = try route.decodeResponse(message)
    var event = ""
    if let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
      let inner = object["event"] as? [String: Any], let sequence = inner["sequence"]
    {
      event += "id: \(sequence)\n"
    }
    event += "data: \(String(decoding: json, as: UTF8.self))\n\n"
    return event
  }
}
