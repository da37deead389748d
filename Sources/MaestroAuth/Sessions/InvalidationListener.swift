import Foundation
import Logging
import MaestroCore
import PostgresNIO
import ServiceLifecycle

/// Whether the current task should stop: cancelled, or the service group is shutting down.
private var shouldStop: Bool {
  Task.isCancelled || Task<Never, Never>.isShuttingDownGracefully
}

/// Keeps this replica in step with the others: LISTENs on the gateway channel and applies
/// session revocations and key changes as they are committed. The listening connection is
/// held out of the shared pool for the listener's lifetime (`withConnection`), and after every
/// (re)connect the full deny list and key set are re-read, so notifications missed while
/// disconnected cannot leave a revoked session usable.
struct InvalidationListener: Service {
  let runtime: GatewayRuntime

  func run() async throws {
    let logger = self.runtime.logger
    var backoff = Duration.milliseconds(100)
    while !shouldStop {
      do {
        try await self.runtime.database.client.withConnection { connection in
          try await connection.listen(on: GatewayNotification.channel) { notifications in
            try await self.resynchronise()
            backoff = .milliseconds(100)
            for try await notification in notifications.cancelOnGracefulShutdown() {
              try await self.apply(GatewayNotification(payload: notification.payload))
            }
          }
        }
      } catch is CancellationError {
        return
      } catch {
        if shouldStop { return }
        logger.warning("invalidation listener disconnected; reconnecting", metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
        try? await Task.sleep(for: backoff)
        backoff = min(backoff * 2, .seconds(5))
      }
    }
  }

  private func resynchronise() async throws {
    self.runtime.revocations.replace(with: try await self.runtime.sessions.revokedUnexpired())
    try await self.runtime.reloadKeys()
  }

  private func apply(_ notification: GatewayNotification?) async throws {
    switch notification {
    case .sessionRevoked(let sid, let expiresAt):
      self.runtime.revocations.insert(sid, until: expiresAt)
    case .keysChanged:
      try await self.runtime.reloadKeys()
    case nil:
      break
    }
  }
}

/// The scheduled key lifecycle on every replica: re-reads keys and applies due rotation steps
/// every key-check interval (one replica applies them; the advisory lock serialises), prunes
/// expired entries from the deny list, and deletes sessions expired for more than a day.
struct KeyMaintenance: Service {
  let runtime: GatewayRuntime

  func run() async throws {
    let interval = self.runtime.configuration.keyCheckInterval
    while !shouldStop {
      do {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
      } catch {
        return
      }
      do {
        if try await !self.runtime.rotateIfDue() { try await self.runtime.reloadKeys() }
        let now = self.runtime.clock.now()
        self.runtime.revocations.prune(now: now)
        try await self.runtime.purgeExpiredSessions()
      } catch {
        self.runtime.logger.warning("key maintenance failed; retrying next interval", metadata: ["error": "\(error)"])
      }
    }
  }
}
