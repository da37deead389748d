public import MaestroKit

/// scheduler's process: cron and interval schedules in the `scheduler` schema, starting runs
/// through workflow-service's gRPC API.
public enum SchedulerServer {
  /// Local defaults: gRPC 9102, admin 9203, role `maestro_scheduler`.
  public static let defaults = ServiceDefaults(serviceName: "scheduler", schema: "scheduler", grpcPort: 9102, adminPort: 9203)

  /// The `scheduler` schema version this build needs (its highest migration).
  public static let requiredSchemaVersion = 1

  /// What the scheduler runs inside its host.
  public static func components(host: MaestroServiceHost) -> ServiceComponents {
    ServiceComponents(requiredSchemaVersion: self.requiredSchemaVersion)
  }
}
