import MaestroCore
public import MaestroKit
import MaestroProtos

/// migration-service's process (`serve`): the gRPC API over the ledger and the repository's
/// migration files. Applying is the `migrate` command's job (it needs the admin role).
public enum MigrationServer {
  /// Local defaults: gRPC 9104, admin 9205, role `maestro_migration`.
  public static let defaults = ServiceDefaults(serviceName: "migration-service", schema: "migration", grpcPort: 9104, adminPort: 9205)

  /// The `migration` schema version this build needs (its highest migration).
  public static let requiredSchemaVersion = 1

  /// What migration-service runs inside its host; `migrationsRoot` is the `services/` folder.
  public static func components(host: MaestroServiceHost, migrationsRoot: String) -> ServiceComponents {
    ServiceComponents(
      grpcServices: [MigrationGRPCService(database: host.database, migrationsRoot: migrationsRoot, logger: host.logger)],
      servedServiceNames: [Maestro_Migration_V1_MigrationService.descriptor.fullyQualifiedService],
      policy: .maestro,
      requiredSchemaVersion: self.requiredSchemaVersion
    )
  }
}
