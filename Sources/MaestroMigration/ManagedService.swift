/// A service whose schema migration-service manages: its name, schema and migrations.
public struct ManagedService: Sendable, Equatable {
  /// Executable name, also the folder under `services/`.
  public var name: String
  /// The schema it owns; its role is `<rolePrefix><schema>`.
  public var schema: String
  /// Its migrations, ordered by version.
  public var migrations: [Migration]

  public init(name: String, schema: String, migrations: [Migration] = []) {
    self.name = name
    self.schema = schema
    self.migrations = migrations
  }

  /// The five services, in the order their migrations are applied.
  public static let catalog: [(name: String, schema: String)] = [
    ("migration-service", "migration"),
    ("auth-gateway", "auth"),
    ("workflow-service", "workflow"),
    ("scheduler", "scheduler"),
    ("metrics-service", "metrics"),
  ]

  /// Loads every service's migrations from `<root>/<service>/migrations/*.sql`.
  ///
  /// Throws for a malformed file name or directive, or two files with one version. A service
  /// without a migrations folder has no migrations.
  public static func loadAll(root: String) throws(MigrationError) -> [ManagedService] {
    try self.catalog.map { entry throws(MigrationError) in
      ManagedService(name: entry.name, schema: entry.schema, migrations: try MigrationLoader.load(root: root, service: entry.name))
    }
  }
}
