import Synchronization

/// Wakes idle loops: signalled by NOTIFY (from any replica) or by local work; a loop waits for
/// a signal or a deadline, whichever comes first. No polling loop. Used by the workflow
/// engine's executors, timers and long polls, and by the scheduler's tick.
public final class Wakeup: Sendable {
  private struct State {
    var pending = false
    var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    var nextID = 0
    var closed = false
  }

  private let state = Mutex(State())

  public init() {}

  /// Wakes every waiting executor (or the next one to wait).
  public func signal() {
    let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
      guard !state.waiters.isEmpty else {
        state.pending = true
        return []
      }
      defer { state.waiters = [:] }
      return Array(state.waiters.values)
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Whether ``close()`` was called.
  public var isClosed: Bool { self.state.withLock { $0.closed } }

  /// Wakes every waiter now and makes every later wait return at once (shutdown).
  public func close() {
    let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.closed = true
      defer { state.waiters = [:] }
      return Array(state.waiters.values)
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Returns on a signal (true), after `timeout` or on cancellation (false).
  @discardableResult
  public func wait(timeout: Duration) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
      let id = self.state.withLock { state -> Int in
        state.nextID += 1
        return state.nextID
      }
      group.addTask {
        await withTaskCancellationHandler {
          await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = self.state.withLock { state -> Bool in
              if state.pending || state.closed || Task.isCancelled {
                state.pending = false
                return true
              }
              state.waiters[id] = continuation
              return false
            }
            if resumeNow { continuation.resume() }
          }
        } onCancel: {
          let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
          waiter?.resume()
        }
        return !Task.isCancelled
      }
      group.addTask {
        try? await Task.sleep(for: timeout)
        return false
      }
      let signalled = await group.next() ?? false
      group.cancelAll()
      return signalled
    }
  }
}
