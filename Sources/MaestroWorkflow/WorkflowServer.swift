public import MaestroKit

/// workflow-service's process: definitions, runs, the durable engine and the worker API, in the
/// `workflow` schema.
public enum WorkflowServer {
  /// Local defaults: gRPC 9101, admin 9202, role `maestro_workflow`.
  public static let defaults = ServiceDefaults(serviceName: "workflow-service", schema: "workflow", grpcPort: 9101, adminPort: 9202)

  /// The `workflow` schema version this build needs (its highest migration).
  public static let requiredSchemaVersion = 1

  /// What workflow-service runs inside its host.
  public static func components(host: MaestroServiceHost) -> ServiceComponents {
    ServiceComponents(requiredSchemaVersion: self.requiredSchemaVersion)
  }
}
