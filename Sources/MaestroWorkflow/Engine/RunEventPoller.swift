import Foundation
import Logging
import MaestroWorkflowModel

/// Feeds WatchRun streams: the stored events after the requested sequence, then new ones as
/// they are recorded, until the run's terminal event. New events are found by re-reading the
/// log (indexed by run and sequence) every `interval` (250 ms), so events recorded by any
/// replica reach the watcher within that bound.
struct RunEventPoller: Sendable {
  let engine: WorkflowEngine
  var interval: Duration = .milliseconds(250)

  func watch(tenant: String, runID: UUID, after: Int64, _ deliver: (EventRecord) async throws -> Void) async throws {
    var last = after
    while !Task.isCancelled {
      let (events, status) = try await self.engine.watchBatch(tenant: tenant, runID: runID, after: last)
      for event in events {
        try await deliver(event)
        last = event.sequence
      }
      if status.isTerminal, events.count < 500 {
        // Terminal and fully delivered: one final read closes the gap between the two queries.
        let (tail, _) = try await self.engine.watchBatch(tenant: tenant, runID: runID, after: last)
        for event in tail { try await deliver(event) }
        return
      }
      if events.count >= 500 { continue }
      try await Task.sleep(for: self.interval)
    }
  }
}
