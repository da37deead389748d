/// How carefully migrations are applied: the timeouts each migration runs under (a migration's
/// `-- maestro:lock-timeout` / `-- maestro:statement-timeout` override them), how a lock that
/// was not granted is retried, and how long a runner waits for another runner to finish.
public struct GuardRails: Sendable, Equatable {
  /// `lock_timeout` for each statement: how long a statement may wait for a table lock (and so
  /// how long other queries can queue behind it). `.zero` disables it (the linter then flags
  /// every ALTER TABLE).
  public var lockTimeout: Duration
  /// `statement_timeout` for each statement; `.zero` disables it.
  public var statementTimeout: Duration
  /// How many times a migration whose lock was not granted is retried (from the start, after
  /// rolling back) before the run fails.
  public var lockRetries: Int
  /// The first pause between retries; it doubles each time, up to ``maximumBackoff``.
  public var retryBackoff: Duration
  public var maximumBackoff: Duration
  /// How long to wait for another runner's advisory lock: nil waits as long as it takes,
  /// `.zero` fails at once with a message naming the holder.
  public var lockWait: Duration?

  public init(
    lockTimeout: Duration = .seconds(5),
    statementTimeout: Duration = .seconds(300),
    lockRetries: Int = 10,
    retryBackoff: Duration = .milliseconds(500),
    maximumBackoff: Duration = .seconds(30),
    lockWait: Duration? = nil
  ) {
    self.lockTimeout = lockTimeout
    self.statementTimeout = statementTimeout
    self.lockRetries = lockRetries
    self.retryBackoff = retryBackoff
    self.maximumBackoff = maximumBackoff
    self.lockWait = lockWait
  }

  public static let `default` = GuardRails()

  /// The pause before retry number `attempt` (1-based): exponential, capped.
  public func backoff(attempt: Int) -> Duration {
    var pause = self.retryBackoff
    for _ in 1..<max(attempt, 1) where pause < self.maximumBackoff { pause *= 2 }
    return min(pause, self.maximumBackoff)
  }
}

extension Duration {
  /// Whole milliseconds, for Postgres settings (`'1500ms'`).
  var milliseconds: Int64 {
    self.components.seconds * 1000 + self.components.attoseconds / 1_000_000_000_000_000
  }
}
