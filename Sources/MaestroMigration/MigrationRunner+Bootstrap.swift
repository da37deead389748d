import Logging
import PostgresNIO

extension MigrationRunner {
  /// Roles, schemas, privileges and bookkeeping tables; idempotent.
  func bootstrap(on connection: PostgresConnection) async throws {
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
        for statement in Ledger.upgradeTable { try await self.execute(statement, on: connection) }
        try await self.execute(Ledger.createProgressTable, on: connection)
      }
    }
  }

  /// Lets every service role call `migration.register_schema_expectation` and
  /// `migration.withdraw_schema_expectation` (and nothing else in the `migration` schema), and
  /// maps each role to its service for those functions. A no-op before migration-service's
  /// migration 0002 created them.
  func grantExpectationAccess(on connection: PostgresConnection) async throws {
    guard try await Self.relationExists("migration.service_roles", on: connection, logger: self.logger) else { return }
    try await self.inTransaction(on: connection) { connection in
      for service in self.services {
        let role = self.roles.name(for: service.schema)
        _ = try await connection.query(
          """
          INSERT INTO migration.service_roles (role_name, service) VALUES (\(role), \(service.name))
          ON CONFLICT (role_name) DO UPDATE SET service = excluded.service
          """,
          logger: self.logger
        ).collect()
        guard service.schema != Ledger.schema else { continue }
        try await self.execute("GRANT USAGE ON SCHEMA migration TO \(quoteIdentifier(role))", on: connection)
        try await self.execute(
          "GRANT EXECUTE ON FUNCTION migration.register_schema_expectation(text, integer, interval), migration.withdraw_schema_expectation(text) TO \(quoteIdentifier(role))",
          on: connection
        )
      }
    }
  }

  /// `body` in a transaction; a failure inside it is rethrown as itself.
  func inTransaction(
    on connection: PostgresConnection,
    _ body: (PostgresConnection) async throws -> Void
  ) async throws {
    do {
      try await connection.withTransaction(logger: self.logger) { connection in try await body(connection) }
    } catch let error as PostgresTransactionError {
      throw error.closureError ?? error.rollbackError ?? error.commitError ?? error
    }
  }

  /// Runs `body` with the role and search_path of `service` (transaction-local), restoring them
  /// afterwards.
  func asRole(
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

  func execute(_ sql: String, on connection: PostgresConnection) async throws {
    _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: self.logger).collect()
  }

  func validateRoles() throws(MigrationError) {
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
