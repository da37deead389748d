import Foundation
public import Logging
public import PostgresNIO

/// One service's migration status: the ledger compared with the files and the live schema.
public struct MigrationStatus: Sendable {
  public var service: ManagedService
  /// The service's ledger entries, by version.
  public var applied: [Ledger.Entry]
  /// Files not in the ledger, by version.
  public var pending: [Migration]
  public var drift: [DriftDetector.Drift]
  public var expectations: [SchemaExpectation]

  public var currentVersion: Int { self.applied.map(\.version).max() ?? 0 }

  init(service: ManagedService, ledger: Ledger, live: DriftDetector.LiveSchema?, expectations: [SchemaExpectation]) {
    self.service = service
    self.applied = ledger.entries.filter { $0.service == service.name }
    let files = Dictionary(uniqueKeysWithValues: service.migrations.map { ($0.version, $0) })
    let appliedVersions = Set(self.applied.map(\.version))
    self.pending = service.migrations.filter { !appliedVersions.contains($0.version) }
    self.expectations = expectations.filter { $0.service == service.name }
    var drift: [DriftDetector.Drift] = self.applied.compactMap { entry in
      guard let file = files[entry.version] else {
        return .init(kind: .missingFile, object: "\(service.name)/\(String(format: "%04d", entry.version))_\(entry.name)", message: "applied migration's file is missing from the repository")
      }
      guard file.checksum == entry.checksum else {
        return .init(kind: .checksumMismatch, object: file.path, message: "file changed after it was applied")
      }
      return nil
    }
    if let live {
      let appliedFiles = self.applied.compactMap { files[$0.version] }
      drift += DriftDetector.drift(schema: service.schema, applied: appliedFiles, live: live)
    }
    self.drift = drift
  }

  /// The status of `services` (every one when `only` is nil), reading the ledger, the live
  /// expectations and each schema's catalog over `connection`.
  public static func read(
    services: [ManagedService],
    only: String? = nil,
    on connection: PostgresConnection,
    logger: Logger
  ) async throws -> [MigrationStatus] {
    let ledger = try await MigrationRunner.ledgerIfPresent(on: connection, logger: logger)
    let expectations = try await MigrationRunner.liveExpectations(on: connection, logger: logger)
    var statuses: [MigrationStatus] = []
    for service in services where only == nil || service.name == only {
      let live = try await DriftDetector.LiveSchema.read(schema: service.schema, on: connection, logger: logger)
      statuses.append(MigrationStatus(service: service, ledger: ledger, live: live, expectations: expectations))
    }
    return statuses
  }
}
