import NIOCore
import Synchronization

/// The replica's StartRun slots: at most `limit` calls in flight, shared by the tick, the
/// follower's re-drives and API calls (trigger, backfill, resume). Waiters are served in order.
///
/// The tick acquires a slot before it hands a start to a task, so it claims the next batch
/// while the previous batch's calls are in flight, and stops claiming when every slot is busy.
final class StartPermits: Sendable {
  private struct State {
    var available: Int
    var waiters = CircularBuffer<CheckedContinuation<Void, Never>>()
  }

  private let state: Mutex<State>

  init(limit: Int) {
    self.state = Mutex(State(available: max(1, limit)))
  }

  /// Waits for a free slot and takes it; give it back with ``release()``.
  func acquire() async {
    let taken = self.state.withLock { state -> Bool in
      guard state.available > 0 else { return false }
      state.available -= 1
      return true
    }
    if taken { return }
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let now = self.state.withLock { state -> Bool in
        if state.available > 0 {
          state.available -= 1
          return true
        }
        state.waiters.append(continuation)
        return false
      }
      if now { continuation.resume() }
    }
  }

  /// Gives a slot back (to the longest waiter, if any).
  func release() {
    let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
      if let waiter = state.waiters.popFirst() { return waiter }
      state.available += 1
      return nil
    }
    next?.resume()
  }
}
