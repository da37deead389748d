public import Logging
import MaestroCore
public import MaestroKit
import MaestroProtos
public import PostgresNIO

/// migration-service's process (`serve`): the gRPC API over the ledger and the repository's
/// migration files; with an administrator URL it also applies and rolls back (Apply/Rollback).
public enum MigrationServer {
  /// Local defaults: gRPC 9104, admin 9205, role `maestro_migration`.
  public static let defaults = ServiceDefaults(serviceName: "migration-service", schema: "migration", grpcPort: 9104, adminPort: 9205)

  /// The `migration` schema version this build needs (its highest migration).
  public static let requiredSchemaVersion = 2

  /// The administrator connection Apply and Rollback use, with the runner's settings.
  public struct AdminAccess: Sendable {
    public let settings: MigrateSettings
    public let client: PostgresClient

    /// `settings.admin`'s client must be run (it is added to the process's services).
    public init(settings: MigrateSettings, logger: Logger) {
      var settings = settings
      // Over the API a held lock answers ABORTED at once instead of holding the call open.
      settings.guardRails.lockWait = .zero
      self.settings = settings
      var admin = settings.admin
      admin.maxConnections = 2
      self.client = admin.makeClient(logger: logger)
    }

    /// A runner over the current files in `root`.
    func runner(root: String, logger: Logger) throws -> MigrationRunner {
      let services: [ManagedService]
      do {
        services = try ManagedService.loadAll(root: root)
      } catch {
        throw error.maestroError
      }
      return MigrationRunner(
        client: self.client, services: services, roles: self.settings.roles, guardRails: self.settings.guardRails,
        backups: self.settings.backups, logger: logger
      )
    }
  }

  /// What migration-service runs inside its host; `migrationsRoot` is the `services/` folder.
  public static func components(host: MaestroServiceHost, migrationsRoot: String, admin: AdminAccess? = nil) -> ServiceComponents {
    ServiceComponents(
      grpcServices: [MigrationGRPCService(database: host.database, migrationsRoot: migrationsRoot, admin: admin, logger: host.logger)],
      servedServiceNames: [Maestro_Migration_V1_MigrationService.descriptor.fullyQualifiedService],
      policy: .maestro,
      requiredSchemaVersion: self.requiredSchemaVersion,
      backgroundServices: admin.map { [$0.client] } ?? []
    )
  }
}
