import Foundation
import Logging
import MaestroKit
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The scheduler's long-lived work in one replica, as a lifecycle `Service`:
/// - the tick: sleeps until the earliest due schedule (one read of the due index) or a NOTIFY
///   that a schedule changed, then claims due schedules with `FOR UPDATE SKIP LOCKED`;
/// - the follower: sleeps until the next live fire is due a look (or this replica started a
///   run), then follows runs to their end and re-drives unconfirmed starts;
/// - a LISTEN on the change channel.
///
/// There is no per-second scan: an idle replica wakes at the next due time, or after
/// `idleWakeup` as a safety net. Graceful shutdown stops claiming and finishes the batch in hand.
struct SchedulerLoop: Service {
  let engine: SchedulerEngine
  /// One-time work before the loops start (installing the reference schedules).
  var beforeStart: @Sendable () async throws -> Void = {}

  func run() async throws {
    try await self.beforeStart()
    let stopping = StopFlag()
    let engine = self.engine
    await withGracefulShutdownHandler {
      await withTaskGroup(of: Void.self) { group in
        group.addTask { await self.listen() }
        group.addTask {
          await withDiscardingTaskGroup { loops in
            loops.addTask { await self.tickLoop(stopping: stopping) }
            loops.addTask { await self.followLoop(stopping: stopping) }
          }
        }
        // The loops end only when stopping; then the listener is cancelled.
        _ = await group.next()
        group.cancelAll()
      }
    } onGracefulShutdown: {
      stopping.set()
      engine.tickWakeup.close()
      engine.followWakeup.close()
    }
    engine.logger.info("scheduler loops stopped")
  }

  private func listen() async {
    while !Task.isCancelled {
      do {
        try await self.engine.database.client.withConnection { connection in
          try await withTaskCancellationHandler {
            try await connection.listen(on: ScheduleStore.changedChannel) { notifications in
              for try await _ in notifications { self.engine.tickWakeup.signal() }
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

  /// Claims due schedules and hands their starts to tasks as StartRun slots free up: the next
  /// batch is claimed while the previous one's calls are in flight, and claiming pauses while
  /// every slot is busy (so claimed fires never queue for long). On shutdown the starts in
  /// flight are finished before the loop returns.
  private func tickLoop(stopping: StopFlag) async {
    let engine = self.engine
    await withDiscardingTaskGroup { starts in
      while !stopping.isSet, !Task.isCancelled {
        do {
          let (claimed, outcome) = try await engine.claim()
          await engine.submit(outcome, into: &starts)
          if claimed == engine.configuration.batchSize { continue }
          var timeout = engine.configuration.idleWakeup
          if let next = try await engine.untilNextDue() {
            // Due but not claimed: another replica holds it right now; look again shortly.
            if next == .zero, claimed > 0 { continue }
            timeout = min(timeout, max(next, claimed == 0 && next == .zero ? .milliseconds(50) : .zero) + .milliseconds(1))
          }
          await engine.tickWakeup.wait(timeout: timeout)
        } catch {
          engine.logger.error("tick failed; backing off", metadata: ["error": "\(String(reflecting: error))"])
          try? await Task.sleep(for: .milliseconds(500))
        }
      }
    }
  }

  private func followLoop(stopping: StopFlag) async {
    let engine = self.engine
    while !stopping.isSet, !Task.isCancelled {
      do {
        let limit = 100
        let looked = try await engine.follow(limit: limit)
        if looked == limit { continue }
        var timeout = engine.configuration.idleWakeup
        if let next = try await engine.untilNextCheck() {
          if next == .zero, looked > 0 { continue }
          timeout = min(timeout, max(next, looked == 0 && next == .zero ? .milliseconds(50) : .zero) + .milliseconds(1))
        }
        await engine.followWakeup.wait(timeout: timeout)
      } catch {
        engine.logger.error("follower failed; backing off", metadata: ["error": "\(String(reflecting: error))"])
        try? await Task.sleep(for: .milliseconds(500))
      }
    }
  }
}

/// A flag set once, on graceful shutdown.
final class StopFlag: Sendable {
  private let flag = Mutex(false)
  var isSet: Bool { self.flag.withLock { $0 } }
  func set() { self.flag.withLock { $0 = true } }
}
