/// Tuning of the execution engine. Defaults suit the local suite; every value is a setting.
public struct EngineConfiguration: Sendable {
  /// Concurrent claim/execute loops per replica.
  public var executors: Int = 4
  /// Steps claimed per statement.
  public var batchSize: Int = 32
  /// Claimed steps each executor loop records concurrently.
  public var parallelism: Int = 8
  /// How long a claimed step stays leased to this replica; an expired lease is re-queued
  /// for another replica (a crashed one's work resumes within this bound).
  public var lease: Duration = .seconds(10)
  /// The longest an idle executor sleeps without a notification (a safety net for a lost
  /// NOTIFY; not a polling interval).
  public var idleWakeup: Duration = .seconds(5)
  /// StartRun group commit: concurrent `start_runs` writes per replica (each carries a batch).
  public var startWriters: Int = 2
  /// StartRun group commit: the most starts of one tenant written together.
  public var startBatchSize: Int = 64
  /// This replica's name in leases and logs.
  public var identity: String

  public init(identity: String) { self.identity = identity }
}
