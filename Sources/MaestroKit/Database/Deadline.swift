/// `operation` did not finish within `timeout`.
public struct DeadlineExceeded: Error, Sendable, CustomStringConvertible {
  public var operation: String
  public var timeout: Duration
  public var description: String { "\(self.operation) did not finish within \(self.timeout)" }
}

/// Runs `body`, cancelling it and throwing ``DeadlineExceeded`` if it takes longer than `timeout`.
public func withDeadline<Result: Sendable>(
  _ timeout: Duration,
  operation: String,
  _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
  try await withThrowingTaskGroup(of: Result.self) { group in
    group.addTask { try await body() }
    group.addTask {
      try await Task.sleep(for: timeout)
      throw DeadlineExceeded(operation: operation, timeout: timeout)
    }
    defer { group.cancelAll() }
    return try await group.next()!
  }
}
