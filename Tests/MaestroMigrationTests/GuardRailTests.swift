import Foundation
import Logging
import MaestroKit
import MaestroMigration
import MaestroTestSupport
import PostgresNIO
import Synchronization
import Testing

@Suite("Guard rails: lock_timeout, retries, advisory lock, resumable CONCURRENTLY (real Postgres)")
struct GuardRailTests {
  @Test("under a long transaction holding a lock, the migration waits at most lock_timeout per try, retries, succeeds once released, and never blocks other queries for longer")
  func lockTimeoutRetries() async throws {
    try await TestDatabase.with { db in
      let base = try MigrationFixtures.appending([MigrationFixtures.itemsTable])
      try await db.migrate(services: base)
      let services = try MigrationFixtures.appending([("add_note", "ALTER TABLE items ADD COLUMN note text;")], base: base)
      let lockTimeout = Duration.milliseconds(300)
      let minimumHold = Duration.seconds(4)
      let guardRails = GuardRails(lockTimeout: lockTimeout, lockRetries: 50, retryBackoff: .milliseconds(100), maximumBackoff: .milliseconds(400))

      let migrationDone = Flag()
      enum Observation: Sendable {
        /// The longest time a reader's query waited for a lock on items (server-side, from
        /// pg_stat_activity), as the holder's observer saw it.
        case longestReaderLockWait(Double)
        case reads(Int)
      }
      let result = try await withThrowingTaskGroup(of: Observation.self) { group in
        // 1. A long transaction (a slow report, say) holds ACCESS SHARE on items until it has
        //    seen the migration queue for its ACCESS EXCLUSIVE lock three separate times, and at
        //    least `minimumHold`. Meanwhile it watches how long readers wait for locks.
        let holderReady = AsyncStream<Void>.makeStream()
        group.addTask {
          try await withRunningClient(try db.adminConfiguration()) { client in
            try await client.withTransaction(logger: Logger(label: "holder")) { connection in
              _ = try await connection.query("SELECT count(*) FROM scheduler.items", logger: Logger(label: "holder")).collect()
              holderReady.continuation.yield()
              let started = ContinuousClock.now
              return try await withRunningClient(try db.adminConfiguration()) { observer in
                var waitsSeen = 0
                var waiting = false
                var longest = 0.0
                while waitsSeen < 3 || ContinuousClock.now - started < minimumHold || !migrationDone.isSet && waiting {
                  let rows = try await observer.query(
                    """
                    SELECT (SELECT count(*) FROM pg_locks WHERE relation = 'scheduler.items'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted),
                           (SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0)::float8 FROM pg_stat_activity
                            WHERE query LIKE '%/* reader */%' AND wait_event_type = 'Lock')
                    """
                  ).collect()
                  let (queued, readerWait) = try rows.first?.decode((Int, Double).self) ?? (0, 0)
                  if queued > 0, !waiting { waitsSeen += 1 }
                  waiting = queued > 0
                  longest = max(longest, readerWait)
                  if waitsSeen >= 3, ContinuousClock.now - started >= minimumHold { break }
                  try await Task.sleep(for: .milliseconds(25))
                }
                return .longestReaderLockWait(longest)
              }
            }
          }
        }
        for await _ in holderReady.stream { break }
        // 2. Traffic: a reader querying items until the migration is done.
        group.addTask {
          try await withRunningClient(try db.adminConfiguration()) { client in
            var reads = 0
            while !migrationDone.isSet {
              _ = try await client.query("SELECT count(*) FROM scheduler.items /* reader */").collect()
              reads += 1
              try await Task.sleep(for: .milliseconds(20))
            }
            return .reads(reads)
          }
        }
        // 3. The migration needs ACCESS EXCLUSIVE on items.
        let started = ContinuousClock.now
        let report = try await db.withRunner(services, guardRails: guardRails) { try await $0.migrate() }
        let elapsed = ContinuousClock.now - started
        migrationDone.set()
        var reads = 0
        var longestWait = 0.0
        for try await observation in group {
          switch observation {
          case .reads(let count): reads = count
          case .longestReaderLockWait(let seconds): longestWait = seconds
          }
        }
        return (report, elapsed, reads, longestWait)
      }
      let (report, elapsed, reads, longestWait) = result
      let applied = try #require(report.applied.first)
      #expect(applied.name == "add_note")
      #expect(applied.lockRetries >= 2, "retried while the lock was held")
      #expect(elapsed >= minimumHold, "it could only succeed after the holder released")
      // Readers queued behind the waiting ALTER wait at most about lock_timeout (measured by the
      // server, so machine load does not blur it), never the whole hold.
      #expect(reads >= 3)
      #expect(longestWait < 0.3 + 0.7, "a reader waited \(longestWait) s for a lock")
      #expect(try await db.adminQuery("SELECT lock_retries::text FROM migration.schema_migrations WHERE name = 'add_note'") == ["\(applied.lockRetries)"])
      #expect(try await db.adminQuery("SELECT count(*)::text FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'") == ["1"])
    }
  }

  @Test("when retries run out, the failure names the file, line and lock_timeout, and nothing is kept")
  func retriesExhausted() async throws {
    try await TestDatabase.with { db in
      let base = try MigrationFixtures.appending([MigrationFixtures.itemsTable])
      try await db.migrate(services: base)
      let services = try MigrationFixtures.appending([("add_note", "SELECT 1;\nALTER TABLE items ADD COLUMN note text;")], base: base)
      let guardRails = GuardRails(lockTimeout: .milliseconds(100), lockRetries: 2, retryBackoff: .milliseconds(20))
      try await withRunningClient(try db.adminConfiguration()) { holder in
        try await holder.withTransaction(logger: Logger(label: "holder")) { connection in
          _ = try await connection.query("LOCK TABLE scheduler.items IN ACCESS SHARE MODE", logger: Logger(label: "holder")).collect()
          let error = await #expect(throws: MigrationError.self) {
            try await db.withRunner(services, guardRails: guardRails) { try await $0.migrate() }
          }
          guard case .lockNotGranted(let path, let line, let attempts, let timeout) = error else {
            Issue.record("expected lockNotGranted, got \(String(describing: error))")
            return
          }
          #expect(path.hasSuffix("_add_note.sql"))
          #expect(line == 2)
          #expect(attempts == 3)
          #expect(timeout == .milliseconds(100))
        }
      }
      #expect(try await db.adminQuery("SELECT count(*)::text FROM migration.schema_migrations WHERE name = 'add_note'") == ["0"])
    }
  }

  @Test("a second runner told not to wait exits with a message naming the lock holder; one that waits succeeds after")
  func concurrentRunners() async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      try await withRunningClient(try db.adminConfiguration()) { holder in
        try await holder.withConnection { connection in
          _ = try await connection.query("SET application_name = 'other-runner'", logger: Logger(label: "holder")).collect()
          _ = try await connection.query("SELECT pg_advisory_lock(\(MigrationRunner.advisoryLockKey))", logger: Logger(label: "holder")).collect()
          let error = await #expect(throws: MigrationError.self) {
            try await db.withRunner(try MigrationFixtures.repository(), guardRails: GuardRails(lockWait: .zero)) { try await $0.migrate() }
          }
          guard case .lockHeld(let holderDescription, _) = error else {
            Issue.record("expected lockHeld, got \(String(describing: error))")
            return
          }
          #expect(holderDescription.contains("other-runner"))
          #expect(error?.description.contains("another migration runner holds the migration lock") == true)

          // One that waits gets the lock when the holder releases it.
          async let waiting = db.withRunner(try MigrationFixtures.repository(), guardRails: GuardRails(lockWait: .seconds(30))) { try await $0.migrate() }
          _ = try await connection.query("SELECT pg_sleep(0.3), pg_advisory_unlock(\(MigrationRunner.advisoryLockKey))", logger: Logger(label: "holder")).collect()
          #expect(try await waiting.applied.isEmpty)
        }
      }
    }
  }

  @Test("a CONCURRENTLY migration runs statement by statement and resumes after a failure without redoing completed statements")
  func resumableConcurrently() async throws {
    try await TestDatabase.with { db in
      let base = try MigrationFixtures.appending([MigrationFixtures.itemsTable, ("audit", "CREATE TABLE audit (note text);")])
      try await db.migrate(services: base)
      try await db.adminExecute("INSERT INTO scheduler.items VALUES (1000, 'item 1', 1, 'dup')") // a duplicate name
      let services = try MigrationFixtures.appending([(
        "unique_names",
        """
        INSERT INTO audit VALUES ('step one');
        CREATE INDEX CONCURRENTLY IF NOT EXISTS items_owner_idx ON items (owner_id);
        CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_name_uidx ON items (name);
        -- maestro:down
        DROP INDEX CONCURRENTLY IF EXISTS items_name_uidx;
        DROP INDEX CONCURRENTLY IF EXISTS items_owner_idx;
        """
      )], base: base)
      let error = await #expect(throws: MigrationError.self) {
        try await db.withRunner(services) { try await $0.migrate() }
      }
      guard case .statementFailed(_, let line, let message) = error else {
        Issue.record("expected statementFailed, got \(String(describing: error))")
        return
      }
      #expect(line == 3)
      #expect(message.contains("could not create unique index"))
      #expect(try await db.adminQuery("SELECT statements_done::text FROM migration.schema_migration_progress") == ["2"])
      #expect(try await db.adminQuery("SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'scheduler.items_name_uidx'::regclass") == ["false"])

      // The operator removes the duplicate; the rerun resumes at statement 3 and rebuilds the invalid index.
      try await db.adminExecute("DELETE FROM scheduler.items WHERE id = 1000")
      let report = try await db.withRunner(services) { try await $0.migrate() }
      #expect(report.applied.map(\.name) == ["unique_names"])
      #expect(try await db.adminQuery("SELECT count(*)::text FROM scheduler.audit") == ["1"], "step one ran once")
      #expect(try await db.adminQuery("SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'scheduler.items_name_uidx'::regclass") == ["true"])
      #expect(try await db.adminQuery("SELECT count(*)::text FROM migration.schema_migration_progress") == ["0"])
      #expect(try await db.adminQuery("SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'scheduler.items_name_uidx'::regclass") == [db.role(for: "scheduler")])
    }
  }
}

/// A flag one task sets and another polls.
final class Flag: Sendable {
  private let value = Mutex(false)
  var isSet: Bool { self.value.withLock { $0 } }
  func set() { self.value.withLock { $0 = true } }
}
