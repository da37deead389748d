import Foundation
import GRPCCore
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import PostgresNIO
import SwiftProtobuf

/// `maestro.migration.v1.MigrationService`. Reads (GetStatus, Plan, Lint) and
/// RegisterSchemaExpectation use the service's own `maestro_migration` role; Apply and Rollback
/// need the administrator connection (``MigrationServer/AdminAccess``) and answer
/// FAILED_PRECONDITION without one. Who may call what is ``AccessPolicy/maestro``'s
/// (Apply/Rollback: `migration.apply`, held by platform-operator and admin only).
struct MigrationGRPCService: Maestro_Migration_V1_MigrationService.SimpleServiceProtocol {
  let database: Database
  let migrationsRoot: String
  let admin: MigrationServer.AdminAccess?
  let logger: Logger

  private func services(named name: String = "") throws -> [ManagedService] {
    let services: [ManagedService]
    do {
      services = try ManagedService.loadAll(root: self.migrationsRoot)
    } catch {
      throw error.maestroError
    }
    guard !name.isEmpty else { return services }
    let selected = services.filter { $0.name == name }
    guard !selected.isEmpty else {
      throw MaestroError.invalidArgument(
        field: "service",
        "unknown service '\(name)'; expected one of \(ManagedService.catalog.map(\.name).joined(separator: ", "))"
      )
    }
    return selected
  }

  private func mapping<Result>(_ body: () async throws -> Result) async throws -> Result {
    do {
      return try await body()
    } catch let error as MigrationError {
      throw error.maestroError
    }
  }

  func getStatus(
    request: Maestro_Migration_V1_GetStatusRequest,
    context: ServerContext
  ) async throws -> Maestro_Migration_V1_GetStatusResponse {
    let services = try self.services(named: request.service)
    let statuses = try await self.database.client.withConnection { connection in
      try await MigrationStatus.read(services: services, on: connection, logger: self.logger)
    }
    return .with { $0.services = statuses.map(\.message) }
  }

  func plan(request: Maestro_Migration_V1_PlanRequest, context: ServerContext) async throws -> Maestro_Migration_V1_PlanResponse {
    let services = try self.services(named: request.service)
    let phase = try Self.phase(request.phase, required: false)
    let plans = try await self.mapping {
      try await self.database.client.withConnection { connection in
        let ledger = try await MigrationRunner.ledgerIfPresent(on: connection, logger: self.logger)
        try ledger.verify(against: services)
        let expectations = try await MigrationRunner.liveExpectations(on: connection, logger: self.logger)
        let planner = MigrationPlanner(phase: phase, linter: MigrationLinter(defaultLockTimeout: self.admin?.settings.guardRails.lockTimeout ?? GuardRails.default.lockTimeout))
        return planner.plan(services: services, ledger: ledger, expectations: expectations)
      }
    }
    return .with { $0.services = plans.map(\.message) }
  }

  func apply(request: Maestro_Migration_V1_ApplyRequest, context: ServerContext) async throws -> Maestro_Migration_V1_ApplyResponse {
    guard let phase = try Self.phase(request.phase, required: true) else { throw MaestroError.invalidArgument(field: "phase", "required") }
    _ = try self.services(named: request.service)
    guard request.targetVersion >= 0 else { throw MaestroError.invalidArgument(field: "target_version", "must be 0 or more") }
    guard request.targetVersion == 0 || !request.service.isEmpty else {
      throw MaestroError.invalidArgument(field: "target_version", "needs `service`")
    }
    let admin = try self.requireAdmin("Apply")
    let options = MigrationRunner.ApplyOptions(
      phase: phase, service: request.service.isEmpty ? nil : request.service,
      targetVersion: request.targetVersion == 0 ? nil : Int(request.targetVersion), backup: request.backup, dryRun: request.dryRun
    )
    let report = try await self.mapping { try await admin.runner(root: self.migrationsRoot, logger: self.logger).apply(options) }
    return .with {
      $0.dryRun = request.dryRun
      $0.applied = report.applied.map(\.message)
      $0.planned = request.dryRun ? report.plans.map(\.message) : []
      $0.backups = report.backups.map(\.message)
    }
  }

  func rollback(request: Maestro_Migration_V1_RollbackRequest, context: ServerContext) async throws -> Maestro_Migration_V1_RollbackResponse {
    guard !request.service.isEmpty else { throw MaestroError.invalidArgument(field: "service", "required") }
    _ = try self.services(named: request.service)
    guard request.toVersion >= 0 else { throw MaestroError.invalidArgument(field: "to_version", "must be 0 or more") }
    let admin = try self.requireAdmin("Rollback")
    let report = try await self.mapping {
      try await admin.runner(root: self.migrationsRoot, logger: self.logger)
        .rollback(service: request.service, toVersion: Int(request.toVersion), backup: request.backup, dryRun: request.dryRun)
    }
    return .with {
      $0.dryRun = request.dryRun
      $0.rolledBack = report.applied.map(\.message)
      $0.backups = report.backups.map(\.message)
    }
  }

  func lint(request: Maestro_Migration_V1_LintRequest, context: ServerContext) async throws -> Maestro_Migration_V1_LintResponse {
    let linter = MigrationLinter(defaultLockTimeout: self.admin?.settings.guardRails.lockTimeout ?? GuardRails.default.lockTimeout)
    let findings: [LintFinding]
    if !request.sql.isEmpty {
      guard request.sql.utf8.count <= 1 << 20 else { throw MaestroError.invalidArgument(field: "sql", "at most 1 MiB") }
      findings = linter.lint(sql: request.sql, service: request.service)
    } else {
      findings = try self.services(named: request.service).flatMap { linter.lint($0) }
    }
    return .with {
      $0.findings = findings.map(\.protoMessage)
      $0.passed = !findings.contains { $0.blocks }
    }
  }

  func registerSchemaExpectation(
    request: Maestro_Migration_V1_RegisterSchemaExpectationRequest,
    context: ServerContext
  ) async throws -> Maestro_Migration_V1_RegisterSchemaExpectationResponse {
    guard !request.service.isEmpty else { throw MaestroError.invalidArgument(field: "service", "required") }
    guard let service = try self.services(named: request.service).first else { throw MaestroError.invalidArgument(field: "service", "unknown") }
    guard (1...200).contains(request.instanceID.count) else { throw MaestroError.invalidArgument(field: "instance_id", "1 to 200 characters") }
    guard request.version >= 0, request.version <= Int32.max else { throw MaestroError.invalidArgument(field: "version", "must be 0 or more") }
    var ttl = Duration.seconds(300)
    if request.hasTtl {
      ttl = .seconds(request.ttl.seconds) + .nanoseconds(Int64(request.ttl.nanos))
      guard ttl >= .seconds(1), ttl <= .seconds(86_400) else {
        throw MaestroError.invalidArgument(field: "ttl", "between 1s and 24h")
      }
    }
    let version = Int(request.version)
    let (current, expiresAt, appliedVersions) = try await self.database.withTransaction { connection in
      var expiresAt = Date()
      let rows = try await connection.query(
        """
        INSERT INTO migration.schema_expectations (instance_id, service, version, registered_at, expires_at)
        VALUES (\(request.instanceID), \(service.name), \(version), now(), now() + \(ttl.milliseconds) * interval '1 millisecond')
        ON CONFLICT (service, instance_id) DO UPDATE SET version = excluded.version, expires_at = excluded.expires_at
        RETURNING expires_at
        """,
        logger: self.logger
      )
      for try await value in rows.decode(Date.self) { expiresAt = value }
      let ledger = try await Ledger.read(on: connection, logger: self.logger)
      return (ledger.currentVersion(of: service.name), expiresAt, ledger.versions(of: service.name))
    }
    let missingExpand = service.migrations.contains { $0.version <= version && $0.phase == .expand && !appliedVersions.contains($0.version) }
    return .with {
      $0.currentVersion = Int64(current)
      $0.satisfied = !missingExpand
      $0.expiresAt = Google_Protobuf_Timestamp(date: expiresAt)
    }
  }

  private func requireAdmin(_ method: String) throws -> MigrationServer.AdminAccess {
    guard let admin = self.admin else {
      throw MaestroError(
        .failedPrecondition,
        "\(method) needs the administrator connection: start migration-service serve with MAESTRO_ADMIN_DATABASE_URL (or run `migration-service \(method.lowercased())`)"
      )
    }
    return admin
  }

  static func phase(_ phase: Maestro_Migration_V1_MigrationPhase, required: Bool) throws -> Migration.Phase? {
    switch phase {
    case .expand: return .expand
    case .contract: return .contract
    case .unspecified:
      if required { throw MaestroError.invalidArgument(field: "phase", "required: MIGRATION_PHASE_EXPAND or MIGRATION_PHASE_CONTRACT") }
      return nil
    case .UNRECOGNIZED(let value):
      throw MaestroError.invalidArgument(field: "phase", "unknown value \(value)")
    }
  }
}
