import Synchronization

/// The serving status of each gRPC service of a process, as `grpc.health.v1.Health` reports it.
///
/// The empty service name is the whole server. ``drain()`` flips everything to NOT_SERVING and
/// ends every `Watch` stream, so long-lived watches never hold up a graceful shutdown.
public final class HealthStatusStore: Sendable {
  /// A service's status.
  public enum Status: Sendable, Equatable {
    case serving
    case notServing
  }

  private struct State {
    var statuses: [String: Status] = [:]
    var watchers: [Int: (service: String, continuation: AsyncStream<Status?>.Continuation)] = [:]
    var nextWatcherID = 0
    var draining = false
  }

  private let state = Mutex(State())

  public init() {}

  /// Sets `service`'s status (`""` for the server as a whole) and notifies its watchers.
  /// Ignored once draining: a draining server never reports SERVING again.
  public func set(_ status: Status, for service: String = "") {
    let continuations = self.state.withLock { state -> [AsyncStream<Status?>.Continuation] in
      guard !state.draining, state.statuses[service] != status else { return [] }
      state.statuses[service] = status
      return state.watchers.values.filter { $0.service == service }.map(\.continuation)
    }
    for continuation in continuations { continuation.yield(status) }
  }

  /// Sets every known service, and the server, to `status`.
  public func setAll(_ status: Status) {
    let services = self.state.withLock { Array($0.statuses.keys) + [""] }
    for service in Set(services) { self.set(status, for: service) }
  }

  /// The status of `service`, or nil when it is unknown.
  public func status(of service: String = "") -> Status? {
    self.state.withLock { $0.statuses[service] }
  }

  /// Whether ``drain()`` has been called.
  public var isDraining: Bool { self.state.withLock { $0.draining } }

  /// Reports NOT_SERVING for everything and finishes all watch streams.
  public func drain() {
    let continuations = self.state.withLock { state in
      state.draining = true
      for key in state.statuses.keys { state.statuses[key] = .notServing }
      let all = state.watchers.values.map(\.continuation)
      state.watchers = [:]
      return all
    }
    for continuation in continuations {
      continuation.yield(.notServing)
      continuation.finish()
    }
  }

  /// The current status of `service` (nil: unknown), then each change, until drained or the
  /// consumer stops.
  public func watch(_ service: String) -> AsyncStream<Status?> {
    let (stream, continuation) = AsyncStream.makeStream(of: Status?.self, bufferingPolicy: .bufferingNewest(1))
    let accepted = self.state.withLock { state -> Bool in
      continuation.yield(state.statuses[service])
      guard !state.draining else { return false }
      let id = state.nextWatcherID
      state.nextWatcherID += 1
      state.watchers[id] = (service, continuation)
      continuation.onTermination = { [weak self] _ in
        self?.state.withLock { _ = $0.watchers.removeValue(forKey: id) }
      }
      return true
    }
    if !accepted { continuation.finish() }
    return stream
  }
}
