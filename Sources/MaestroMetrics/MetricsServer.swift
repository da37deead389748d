public import MaestroKit

/// metrics-service's process: outcome ingest, SLOs, error budgets and alerting in the
/// `metrics` schema.
public enum MetricsServer {
  /// Local defaults: gRPC 9103, admin 9204, role `maestro_metrics`.
  public static let defaults = ServiceDefaults(serviceName: "metrics-service", schema: "metrics", grpcPort: 9103, adminPort: 9204)

  /// The `metrics` schema version this build needs (its highest migration).
  public static let requiredSchemaVersion = 1

  /// What metrics-service runs inside its host.
  public static func components(host: MaestroServiceHost) -> ServiceComponents {
    ServiceComponents(requiredSchemaVersion: self.requiredSchemaVersion)
  }
}
