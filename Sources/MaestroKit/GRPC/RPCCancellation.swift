import GRPCCore

/// Runs `body` in a task that is cancelled when the server RPC is cancelled: the peer reset
/// the stream or went away, the RPC's deadline passed, or the server began shutting down.
///
/// grpc-swift does not cancel a handler's task in those cases; it only calls RPC cancellation
/// handlers. Work that waits (a long poll, a call forwarded to a backend) should stop then,
/// instead of holding a backend call or the server's drain until it ends by itself.
public func withTaskCancelledOnRPCCancellation<Result: Sendable>(
  _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
  let task = Task { try await body() }
  return try await withRPCCancellationHandler {
    try await withTaskCancellationHandler {
      try await task.value
    } onCancel: {
      task.cancel()
    }
  } onCancelRPC: {
    task.cancel()
  }
}
