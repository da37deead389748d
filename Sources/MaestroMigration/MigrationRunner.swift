import Foundation
public import Logging
import MaestroCore
public import PostgresNIO

/// Applies the services' migrations to one database, as its administrator.
///
/// Under a session advisory lock (so concurrent runners serialise and each migration is applied
/// exactly once) it: creates each service's login role and schema (the role owns its schema and
/// has no privileges on the others; PUBLIC loses its default rights), creates the ledger
/// `migration.schema_migrations`, refuses to continue if an applied file's checksum changed,
/// then applies every pending migration in order — each in its own transaction, as the service's
/// role with `search_path` set to its schema — recording version, checksum, phase, duration and
/// who applied it, and bumping `<schema>.maestro_schema_version`. Running it again is a no-op.
public struct MigrationRunner: Sendable {
  /// Role names are `<rolePrefix><schema>`; passwords by schema.
  public struct Roles: Sendable {
    public var prefix: String
    public var passwords: [String: String]

    public init(prefix: String = "maestro_", passwords: [String: String]) {
      self.prefix = prefix
      self.passwords = passwords
    }

    public func name(for schema: String) -> String { self.prefix + schema }
  }

  /// The session advisory lock key ("MAESTRO" in ASCII) held while migrating.
  public static let advisoryLockKey: Int64 = 0x4D41_4553_5452_4F

  private let client: PostgresClient
  private let services: [ManagedService]
  private let roles: Roles
  private let logger: Logger

  /// - Parameters:
  ///   - client: A running client connected as a role that may create roles and schemas.
  ///   - services: The services and their migrations, in apply order.
  public init(client: PostgresClient, services: [ManagedService], roles: Roles, logger: Logger) {
    self.client = client
    self.services = services
    self.roles = roles
    self.logger = logger
  }

  /// What one run did.
  public struct Report: Sendable, Equatable {
    /// `(service, version, name)` of each migration applied, in order.
    public var applied: [AppliedMigration] = []
  }

  /// One migration applied by this run.
  public struct AppliedMigration: Sendable, Equatable {
    public var service: String
    public var version: Int
    public var name: String
  }

  /// Applies everything pending. Throws ``MigrationError`` (nothing of the failing migration is
  /// kept; earlier ones stay applied) or a Postgres error.
  public func migrate() async throws -> Report {
    try self.validateRoles()
    return try await self.client.withConnection { connection in
      _ = try await connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))", logger: self.logger).collect()
      do {
        let report = try await self.migrate(on: connection)
        _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: self.logger).collect()
        return report
      } catch {
        _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: self.logger).collect()
        throw error
      }
    }
  }

  private func migrate(on connection: PostgresConnection) async throws -> Report {
    try await self.bootstrap(on: connection)
    let ledger = try await Ledger.read(on: connection, logger: self.logger)
    try ledger.verify(against: self.services)

    var report = Report()
    for service in self.services {
      let applied = ledger.versions(of: service.name)
      for migration in service.migrations where !applied.contains(migration.version) {
        try await self.apply(migration, of: service, on: connection)
        report.applied.append(.init(service: service.name, version: migration.version, name: migration.name))
      }
    }
    if report.applied.isEmpty {
      self.logger.info("migrations up to date")
    }
    return report
  }

  /// Roles, schemas, privileges and bookkeeping tables; idempotent.
  private func bootstrap(on connection: PostgresConnection) async throws {
    try await self.inTransaction(on: connection) { connection in
      let databaseRows = try await connection.query("SELECT current_database()", logger: self.logger)
      var database = ""
      for try await name in databaseRows.decode(String.self) { database = name }
      try await self.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC", on: connection)
      try await self.execute("REVOKE ALL ON DATABASE \(quoteIdentifier(database)) FROM PUBLIC", on: connection)
      for service in self.services {
        let role = self.roles.name(for: service.schema)
        let password = quoteLiteral(self.roles.passwords[service.schema] ?? "")
        let exists = try await connection.query(
          "SELECT 1 FROM pg_roles WHERE rolname = \(role)",
          logger: self.logger
        ).collect().isEmpty == false
        let verb = exists ? "ALTER" : "CREATE"
        try await self.execute(
          "\(verb) ROLE \(quoteIdentifier(role)) LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD \(password)",
          on: connection
        )
        try await self.execute("GRANT CONNECT, TEMPORARY ON DATABASE \(quoteIdentifier(database)) TO \(quoteIdentifier(role))", on: connection)
        try await self.execute("CREATE SCHEMA IF NOT EXISTS \(quoteIdentifier(service.schema)) AUTHORIZATION \(quoteIdentifier(role))", on: connection)
        try await self.execute("REVOKE ALL ON SCHEMA \(quoteIdentifier(service.schema)) FROM PUBLIC", on: connection)
        try await self.asRole(of: service, on: connection) {
          try await self.execute(
            """
            CREATE TABLE IF NOT EXISTS maestro_schema_version (
              singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
              version integer NOT NULL,
              updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            on: connection
          )
          try await self.execute(
            "INSERT INTO maestro_schema_version (version) VALUES (0) ON CONFLICT (singleton) DO NOTHING",
            on: connection
          )
        }
      }
      guard let ledgerOwner = self.services.first(where: { $0.schema == Ledger.schema }) else {
        throw MigrationError.invalidSetting("the migration-service schema must be managed")
      }
      try await self.asRole(of: ledgerOwner, on: connection) {
        try await self.execute(Ledger.createTable, on: connection)
      }
    }
  }

  private func apply(_ migration: Migration, of service: ManagedService, on connection: PostgresConnection) async throws {
    let started = ContinuousClock.now
    self.logger.info("applying migration", metadata: ["path": "\(migration.path)", "phase": "\(migration.phase.rawValue)"])
    try await self.inTransaction(on: connection) { connection in
        try await self.asRole(of: service, on: connection) {
          for statement in SQLStatementSplitter.split(migration.up) {
            do {
              try await self.execute(statement.text, on: connection)
            } catch let error as PSQLError {
              throw MigrationError.statementFailed(
                path: migration.path,
                line: statement.line,
                message: error.serverInfo?[.message] ?? "\(error.code)"
              )
            }
          }
          _ = try await connection.query(
            "UPDATE maestro_schema_version SET version = \(migration.version), updated_at = now()",
            logger: self.logger
          ).collect()
        }
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        _ = try await connection.query(
          """
          INSERT INTO migration.schema_migrations
            (service, version, name, checksum, phase, duration_ms, applied_by)
          VALUES (\(service.name), \(migration.version), \(migration.name), \(migration.checksum),
                  \(migration.phase.rawValue), \(milliseconds), session_user)
          """,
          logger: self.logger
        ).collect()
    }
  }

  /// `body` in a transaction; a failure inside it is rethrown as itself.
  private func inTransaction(
    on connection: PostgresConnection,
    _ body: (PostgresConnection) async throws -> Void
  ) async throws {
    do {
      try await connection.withTransaction(logger: self.logger) { connection in try await body(connection) }
    } catch let error as PostgresTransactionError {
      throw error.closureError ?? error.rollbackError ?? error.commitError ?? error
    }
  }

  /// Runs `body` with the role and search_path of `service`, restoring them afterwards.
  private func asRole(
    of service: ManagedService,
    on connection: PostgresConnection,
    _ body: () async throws -> Void
  ) async throws {
    try await self.execute("SET LOCAL ROLE \(quoteIdentifier(self.roles.name(for: service.schema)))", on: connection)
    try await self.execute("SET LOCAL search_path = \(quoteIdentifier(service.schema))", on: connection)
    try await body()
    try await self.execute("RESET ROLE", on: connection)
    try await self.execute("SET LOCAL search_path = pg_catalog", on: connection)
  }

  private func execute(_ sql: String, on connection: PostgresConnection) async throws {
    _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: self.logger).collect()
  }

  private func validateRoles() throws(MigrationError) {
    guard isSimpleIdentifier(self.roles.prefix + "x") else {
      throw .invalidSetting("role prefix '\(self.roles.prefix)' must be lowercase letters, digits and _")
    }
    for service in self.services {
      guard let password = self.roles.passwords[service.schema], !password.isEmpty else {
        throw .invalidSetting("no password for the \(service.schema) role")
      }
      guard !password.unicodeScalars.contains("\u{0}") else {
        throw .invalidSetting("the \(service.schema) role's password contains a NUL character")
      }
    }
  }
}

/// `"name"`, with embedded quotes doubled.
func quoteIdentifier(_ name: String) -> String {
  "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// `'text'`, with embedded quotes doubled (standard_conforming_strings is on since PG 9.1).
func quoteLiteral(_ text: String) -> String {
  "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
}

func isSimpleIdentifier(_ name: String) -> Bool {
  guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) || first == "_" else { return false }
  return name.count <= 63 && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
}
