import Foundation
import NIOCore
import Logging
import ServiceLifecycle
import Synchronization

/// The engine's long-lived work in one replica, as a lifecycle `Service`:
/// - `executors` loops that claim ready steps in batches, run them and record the outcomes;
/// - a timer loop firing due durable timers (sleeps, step and run timeouts, SLA deadlines);
/// - a lease sweeper re-queuing steps whose executor died;
/// - a LISTEN on the ready channel that wakes idle loops when any replica enqueues work.
///
/// Idle loops sleep until a notification or the next known due time (no busy polling).
/// Graceful shutdown stops claiming, finishes the batches in hand, then returns.
struct EngineRunner: Service {
  let engine: WorkflowEngine
  /// One-time work before the loops start (registering reference workflows).
  var beforeStart: @Sendable () async throws -> Void = {}

  func run() async throws {
    try await self.beforeStart()
    let stopping = StopFlag()
    let engine = self.engine
    try await withGracefulShutdownHandler {
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await self.listen() }
        group.addTask {
          await withDiscardingTaskGroup { loops in
            for index in 0..<engine.configuration.executors {
              loops.addTask { await self.executorLoop(index, stopping: stopping) }
            }
            loops.addTask { await self.timerLoop(stopping: stopping) }
            loops.addTask { await self.sweeperLoop(stopping: stopping) }
            loops.addTask { await self.notifierLoop(stopping: stopping) }
          }
        }
        // The loops end only when stopping; then the listener is cancelled.
        _ = try await group.next()
        group.cancelAll()
      }
    } onGracefulShutdown: {
      stopping.set()
      engine.wakeup.close()
      engine.taskWakeup.close()
      engine.timerWakeup.close()
      engine.notifyRequests.close()
    }
    self.engine.logger.info("engine stopped")
  }

  private func listen() async {
    while !Task.isCancelled {
      do {
        try await self.engine.engine.client.withConnection { connection in
          // A notification stream does not end on task cancellation by itself: closing the
          // connection ends it (the pool replaces the connection).
          try await withTaskCancellationHandler {
            try await connection.listen(on: EngineChannel.ready) { notifications in
              for try await _ in notifications {
                self.engine.wakeup.signal()
                self.engine.taskWakeup.signal()
              }
            }
          } onCancel: {
            _ = connection.close() as EventLoopFuture<Void>
          }
        }
      } catch {
        if Task.isCancelled { return }
        self.engine.logger.warning("LISTEN connection lost; reconnecting", metadata: ["error": "\(String(reflecting: error))"])
        try? await Task.sleep(for: .seconds(1))
      }
    }
  }

  private func executorLoop(_ index: Int, stopping: StopFlag) async {
    let engine = self.engine
    while !stopping.isSet, !Task.isCancelled {
      do {
        let claimed = try await engine.claim(limit: engine.configuration.batchSize)
        if claimed.isEmpty {
          var timeout = engine.configuration.idleWakeup
          if let next = try await engine.nextVisibleAt() {
            timeout = min(timeout, .milliseconds(Int64(max(0, next.timeIntervalSince(engine.now())) * 1000) + 1))
          }
          await engine.wakeup.wait(timeout: timeout)
        } else {
          try await engine.execute(claimed)
        }
      } catch {
        engine.logger.error("executor loop failed; backing off", metadata: ["executor": "\(index)", "error": "\(String(reflecting: error))"])
        try? await Task.sleep(for: .milliseconds(500))
      }
    }
  }

  private func timerLoop(stopping: StopFlag) async {
    let engine = self.engine
    while !stopping.isSet, !Task.isCancelled {
      do {
        let limit = 64
        if try await engine.fireDueTimers(limit: limit) == limit { continue }
        var timeout = engine.configuration.idleWakeup
        if let next = try await engine.nextTimerAt() {
          timeout = min(timeout, .milliseconds(Int64(max(0, next.timeIntervalSince(engine.now())) * 1000) + 1))
        }
        await engine.timerWakeup.wait(timeout: timeout)
      } catch {
        engine.logger.error("timer loop failed; backing off", metadata: ["error": "\(String(reflecting: error))"])
        try? await Task.sleep(for: .milliseconds(500))
      }
    }
  }

  /// Sends `NOTIFY` for work this replica made ready, at most one in flight: requests that
  /// arrive meanwhile are coalesced into the next one. A lost notification (a crash right after
  /// a commit) costs at most the idle wakeup interval.
  private func notifierLoop(stopping: StopFlag) async {
    let engine = self.engine
    while !stopping.isSet, !Task.isCancelled {
      guard await engine.notifyRequests.wait(timeout: engine.configuration.idleWakeup), !stopping.isSet else { continue }
      do {
        _ = try await engine.engine.client.query("SELECT pg_notify(\(EngineChannel.ready), '')", logger: engine.logger).collect()
      } catch {
        engine.logger.warning("NOTIFY failed; other replicas wake at their idle interval", metadata: ["error": "\(String(reflecting: error))"])
      }
    }
  }

  private func sweeperLoop(stopping: StopFlag) async {
    let engine = self.engine
    // Task heartbeat timeouts can be short, so the sweep runs at least every second (two
    // index-only probes of the in-flight set).
    let interval = min(engine.configuration.lease / 2, .seconds(1))
    while !stopping.isSet, !Task.isCancelled {
      do {
        try await engine.requeueExpiredLeases()
        try await engine.expireTaskLeases()
      } catch {
        engine.logger.error("lease sweeper failed", metadata: ["error": "\(String(reflecting: error))"])
      }
      await engine.timerWakeup.wait(timeout: interval)
    }
  }
}

/// A one-way flag shared by the engine's loops.
final class StopFlag: Sendable {
  private let state = Mutex(false)
  var isSet: Bool { self.state.withLock { $0 } }
  func set() { self.state.withLock { $0 = true } }
}
