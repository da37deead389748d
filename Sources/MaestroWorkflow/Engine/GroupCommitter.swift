import Synchronization

/// Group commit for concurrent callers: items with the same key that arrive while earlier
/// writes are in flight are written together, in one statement and one commit, by one of their
/// callers (the leader).
///
/// At most `maxLeaders` writes are in flight. A caller that finds a free slot leads at once
/// with its own item (no added latency when idle); otherwise it waits. A leader takes the
/// waiting items of its key (up to `maxBatch` in all), writes them, hands every waiter its
/// result, then passes its slot to the longest-waiting caller (of any key), which leads the
/// next batch. A leader writes exactly one batch, so no caller's latency grows with load, and
/// no waiter is stranded: a slot is released only when nobody waits.
///
/// `write` returns one result per item, in order; it never throws, so that one bad item can
/// fail alone (the caller's `write` retries items one by one when the batch as a whole fails).
final class GroupCommitter<Key: Hashable & Sendable, Item: Sendable, Output: Sendable>: Sendable {
  typealias Write = @Sendable (_ key: Key, _ items: [Item]) async -> [Result<Output, any Error>]

  private enum Ticket: Sendable {
    case done(Result<Output, any Error>)
    case lead
  }

  private struct Waiter: Sendable {
    var key: Key
    var item: Item
    var continuation: CheckedContinuation<Ticket, Never>
  }

  private struct State: Sendable {
    var leaders = 0
    var waiting: [Waiter] = []
  }

  private let state = Mutex(State())
  let maxLeaders: Int
  let maxBatch: Int
  private let write: Write

  init(maxLeaders: Int, maxBatch: Int, write: @escaping Write) {
    precondition(maxLeaders >= 1 && maxBatch >= 1)
    self.maxLeaders = maxLeaders
    self.maxBatch = maxBatch
    self.write = write
  }

  /// Writes `item` (alone or with others of `key`) and returns its result.
  func submit(_ item: Item, key: Key) async -> Result<Output, any Error> {
    let ticket: Ticket = await withCheckedContinuation { continuation in
      let leads = self.state.withLock { state in
        if state.leaders < self.maxLeaders {
          state.leaders += 1
          return true
        }
        state.waiting.append(Waiter(key: key, item: item, continuation: continuation))
        return false
      }
      if leads { continuation.resume(returning: .lead) }
    }
    switch ticket {
    case .done(let result):
      return result
    case .lead:
      return await self.lead(item, key: key)
    }
  }

  private func lead(_ item: Item, key: Key) async -> Result<Output, any Error> {
    let joined: [Waiter] = self.state.withLock { state in
      var taken: [Waiter] = []
      var rest: [Waiter] = []
      rest.reserveCapacity(state.waiting.count)
      for waiter in state.waiting {
        if waiter.key == key, taken.count < self.maxBatch - 1 {
          taken.append(waiter)
        } else {
          rest.append(waiter)
        }
      }
      state.waiting = rest
      return taken
    }
    var results = await self.write(key, [item] + joined.map(\.item))
    if results.count != joined.count + 1 {
      // A broken `write` must not leave callers waiting forever.
      results = Array(repeating: .failure(GroupCommitError.missingResult), count: joined.count + 1)
    }
    for (index, waiter) in joined.enumerated() {
      waiter.continuation.resume(returning: .done(results[index + 1]))
    }
    let next: Waiter? = self.state.withLock { state in
      if state.waiting.isEmpty {
        state.leaders -= 1
        return nil
      }
      return state.waiting.removeFirst()
    }
    next?.continuation.resume(returning: .lead)
    return results[0]
  }
}

enum GroupCommitError: Error {
  case missingResult
}
