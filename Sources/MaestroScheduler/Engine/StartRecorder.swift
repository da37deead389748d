import Foundation
import Logging
import MaestroKit
import PostgresNIO
import Synchronization

/// Writes confirmed starts back to `schedule_fires` in batches (group commit): the first
/// confirmation writes at once; those that arrive meanwhile wait and go out together in the next
/// statement, written by the same caller. Every caller returns once its own row is written (or
/// the write failed: the fire then stays 'starting' and is re-driven with the same idempotency
/// key, which returns the same run).
final class StartRecorder: Sendable {
  struct Confirmation: Sendable {
    var fireRowID: Int64
    var runID: UUID
    var startedAt: Date
    var lagSeconds: Double
  }

  private struct Waiter {
    var confirmation: Confirmation
    var continuation: CheckedContinuation<Bool, Never>
  }

  private struct State {
    var writing = false
    var waiting: [Waiter] = []
  }

  /// Rows per UPDATE statement.
  static let maximumBatch = 500

  private let state = Mutex(State())
  private let database: Database
  private let replicaID: String
  private let runPollInterval: Duration
  private let logger: Logger

  init(database: Database, replicaID: String, runPollInterval: Duration, logger: Logger) {
    self.database = database
    self.replicaID = replicaID
    self.runPollInterval = runPollInterval
    self.logger = logger
  }

  /// Records `confirmation` ('starting' → 'running' with its run id); returns when written.
  func record(_ confirmation: Confirmation) async {
    let writtenByAnother = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
      let lead = self.state.withLock { state -> Bool in
        if state.writing {
          state.waiting.append(Waiter(confirmation: confirmation, continuation: continuation))
          return false
        }
        state.writing = true
        return true
      }
      if lead { continuation.resume(returning: false) }
    }
    if writtenByAnother { return }
    // This caller writes: its own row, then whatever queued up meanwhile, until none is left.
    var batch: [Confirmation] = [confirmation]
    var waiters: [Waiter] = []
    while true {
      await self.write(batch)
      for waiter in waiters { waiter.continuation.resume(returning: true) }
      waiters = self.state.withLock { state -> [Waiter] in
        guard !state.waiting.isEmpty else {
          state.writing = false
          return []
        }
        let count = min(Self.maximumBatch, state.waiting.count)
        let taken = Array(state.waiting.prefix(count))
        state.waiting.removeFirst(count)
        return taken
      }
      if waiters.isEmpty { return }
      batch = waiters.map(\.confirmation)
    }
  }

  private func write(_ batch: [Confirmation]) async {
    do {
      _ = try await self.database.client.query(
        """
        UPDATE schedule_fires f SET status = 'running', run_id = c.run_id, started_at = c.started_at,
          lag = make_interval(secs => greatest(c.lag, 0)), error = NULL, claimed_by = \(self.replicaID),
          next_check_at = now() + make_interval(secs => \(self.runPollInterval.secondsDouble)), updated_at = now()
        FROM unnest(\(batch.map(\.fireRowID))::bigint[], \(batch.map(\.runID))::uuid[], \(batch.map(\.startedAt))::timestamptz[],
                    \(batch.map(\.lagSeconds))::float8[]) AS c(id, run_id, started_at, lag)
        WHERE f.id = c.id AND f.status = 'starting'
        """,
        logger: self.logger
      ).collect()
    } catch {
      // The runs started; their fires stay 'starting' and are re-driven (same key, same run).
      self.logger.error("recording started runs failed; they are re-driven", metadata: ["fires": "\(batch.count)", "error": "\(String(reflecting: error))"])
    }
  }
}
