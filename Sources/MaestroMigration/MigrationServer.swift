public import MaestroCore
public import MaestroKit
import MaestroProtos

/// migration-service's process (`serve`): the gRPC API over the ledger and the repository's
/// migration files. Applying is the `migrate` command's job (it needs the admin role).
public enum MigrationServer {
  /// Local defaults: gRPC 9104, admin 9205, role `maestro_migration`.
  public static let defaults = ServiceDefaults(serviceName: "migration-service", schema: "migration", grpcPort: 9104, adminPort: 9205)

  /// The `migration` schema version this build needs (its highest migration).
  public static let requiredSchemaVersion = 1

  /// Who may call what. Status is for operators and admins; everything else is denied until
  /// it is implemented (fail closed).
  public static var policy: AccessPolicy {
    var policy = AccessPolicy()
    let service = Maestro_Migration_V1_MigrationService.descriptor.fullyQualifiedService
    policy.require(.permission(.migrationStatusRead), for: "\(service)/GetStatus")
    policy.grant([.migrationStatusRead], to: .admin)
    policy.grant([.migrationStatusRead], to: .platformOperator)
    return policy
  }

  /// What migration-service runs inside its host; `migrationsRoot` is the `services/` folder.
  public static func components(host: MaestroServiceHost, migrationsRoot: String) -> ServiceComponents {
    ServiceComponents(
      grpcServices: [MigrationGRPCService(database: host.database, migrationsRoot: migrationsRoot, logger: host.logger)],
      servedServiceNames: [Maestro_Migration_V1_MigrationService.descriptor.fullyQualifiedService],
      policy: self.policy,
      requiredSchemaVersion: self.requiredSchemaVersion
    )
  }
}

extension Permission {
  /// Read migration status (ledger, pending files, drift).
  public static let migrationStatusRead: Permission = "migration.status.read"
}
