import Logging
import PostgresNIO

/// The session advisory lock that lets one migration runner work at a time.
enum AdvisoryLock {
  /// Takes the lock on `connection`, waiting up to `wait` (nil: as long as it takes; zero: not
  /// at all). Throws ``MigrationError/lockHeld`` naming the holder when it is not granted.
  static func acquire(key: Int64, wait: Duration?, on connection: PostgresConnection, logger: Logger) async throws {
    let started = ContinuousClock.now
    var announced = false
    var pause = Duration.milliseconds(50)
    while true {
      let granted = try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger).collect().first?.decode(Bool.self) ?? false
      if granted { return }
      let holder = try await self.holder(key: key, on: connection, logger: logger)
      let waited = ContinuousClock.now - started
      if let wait, waited >= wait {
        throw MigrationError.lockHeld(holder: holder, waited: wait)
      }
      if !announced {
        logger.notice("another migration runner holds the lock; waiting", metadata: ["holder": "\(holder)"])
        announced = true
      }
      var sleep = pause
      if let wait { sleep = min(sleep, wait - waited) }
      try await Task.sleep(for: sleep)
      pause = min(pause * 2, .seconds(1))
    }
  }

  static func release(key: Int64, on connection: PostgresConnection, logger: Logger) async {
    _ = try? await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger).collect()
  }

  /// "pid 123, application migration-service, user postgres, since …" for the lock's holder.
  static func holder(key: Int64, on connection: PostgresConnection, logger: Logger) async throws -> String {
    let high = Int64(Int32(truncatingIfNeeded: key >> 32))
    let low = Int64(UInt32(truncatingIfNeeded: key))
    let rows = try await connection.query(
      """
      SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), coalesce(a.backend_start::text, '')
      FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.classid::bigint = \(high) AND l.objid::bigint = \(low) AND l.objsubid = 1
      LIMIT 1
      """,
      logger: logger
    )
    for try await (pid, application, user, since) in rows.decode((Int32, String, String, String).self) {
      return "pid \(pid), application '\(application)', user \(user), connected since \(since)"
    }
    return "holder unknown (it may just have finished)"
  }
}
