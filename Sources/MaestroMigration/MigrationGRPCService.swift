import Foundation
import GRPCCore
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import SwiftProtobuf

/// `maestro.migration.v1.MigrationService`. GetStatus reports, per service, what the ledger
/// says is applied (flagging files edited or deleted since) and which files are pending.
/// The zero-downtime RPCs (Plan, Apply, Rollback, Lint, RegisterSchemaExpectation) answer
/// UNIMPLEMENTED until their issue lands.
struct MigrationGRPCService: Maestro_Migration_V1_MigrationService.SimpleServiceProtocol {
  let database: Database
  let migrationsRoot: String
  let logger: Logger

  func getStatus(
    request: Maestro_Migration_V1_GetStatusRequest,
    context: ServerContext
  ) async throws -> Maestro_Migration_V1_GetStatusResponse {
    var services: [ManagedService]
    do {
      services = try ManagedService.loadAll(root: self.migrationsRoot)
    } catch {
      throw error.maestroError
    }
    if !request.service.isEmpty {
      services = services.filter { $0.name == request.service }
      guard !services.isEmpty else {
        throw MaestroError.invalidArgument(
          field: "service",
          "unknown service '\(request.service)'; expected one of \(ManagedService.catalog.map(\.name).joined(separator: ", "))"
        )
      }
    }
    let ledger = try await self.database.client.withConnection { connection in
      try await Ledger.read(on: connection, logger: self.logger)
    }
    return .with { response in
      response.services = services.map { MigrationStatus(service: $0, ledger: ledger).message }
    }
  }

  func plan(request: Maestro_Migration_V1_PlanRequest, context: ServerContext) async throws -> Maestro_Migration_V1_PlanResponse {
    throw MaestroError(.unimplemented, "Plan arrives with zero-downtime migrations; use GetStatus")
  }

  func apply(request: Maestro_Migration_V1_ApplyRequest, context: ServerContext) async throws -> Maestro_Migration_V1_ApplyResponse {
    throw MaestroError(.unimplemented, "Apply is not available over gRPC yet; run `migration-service migrate`")
  }

  func rollback(request: Maestro_Migration_V1_RollbackRequest, context: ServerContext) async throws -> Maestro_Migration_V1_RollbackResponse {
    throw MaestroError(.unimplemented, "Rollback arrives with zero-downtime migrations")
  }

  func lint(request: Maestro_Migration_V1_LintRequest, context: ServerContext) async throws -> Maestro_Migration_V1_LintResponse {
    throw MaestroError(.unimplemented, "Lint arrives with zero-downtime migrations")
  }

  func registerSchemaExpectation(
    request: Maestro_Migration_V1_RegisterSchemaExpectationRequest,
    context: ServerContext
  ) async throws -> Maestro_Migration_V1_RegisterSchemaExpectationResponse {
    throw MaestroError(.unimplemented, "RegisterSchemaExpectation arrives with zero-downtime migrations")
  }
}
