public import GRPCCore

extension RequestContext {
  /// Runs `handler` with this context as ``RequestContext/current``, and makes the response's
  /// producer (which grpc-swift runs after the interceptor returns, for streaming responses)
  /// see it too.
  public func serve<Output: Sendable>(
    _ handler: () async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    var response = try await RequestContext.$current.withValue(self) { try await handler() }
    if case .success(var contents) = response.accepted {
      let producer = contents.producer
      contents.producer = { writer in
        try await RequestContext.$current.withValue(self) { try await producer(writer) }
      }
      response.accepted = .success(contents)
    }
    return response
  }
}
