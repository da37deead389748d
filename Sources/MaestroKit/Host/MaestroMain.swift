import ArgumentParser
import Foundation
import Logging
import MaestroCore
import Metrics
import Prometheus

/// What a Maestro executable's `serve` command does: resolve configuration, bootstrap logging
/// and metrics (only executables do this), build the host and run it.
///
/// Bad configuration exits with status 2 and a message naming the setting; a startup or runtime
/// failure exits with status 1 after logging its reason; SIGTERM/SIGINT drain and exit 0.
public enum MaestroMain {
  public static func serve(
    options: ServiceOptions,
    defaults: ServiceDefaults,
    jwksFetcher: (any JWKSFetcher)? = nil,
    components: @escaping (MaestroServiceHost) async throws -> ServiceComponents
  ) async throws {
    let configuration: ServiceConfiguration
    do {
      configuration = try options.resolve(defaults: defaults, environment: ProcessInfo.processInfo.environment)
    } catch {
      FileHandle.standardError.write(Data("\(defaults.serviceName): \(error)\n".utf8))
      throw ExitCode(2)
    }
    try await self.serve(configuration: configuration, jwksFetcher: jwksFetcher, components: components)
  }

  /// Runs a service with an already resolved configuration. `jwksFetcher` replaces the
  /// configured JWKS source (the gateway verifies against its own in-process key ring).
  public static func serve(
    configuration: ServiceConfiguration,
    jwksFetcher: (any JWKSFetcher)? = nil,
    components: @escaping (MaestroServiceHost) async throws -> ServiceComponents
  ) async throws {
    LoggingSystem.bootstrapMaestro(format: configuration.logFormat, level: configuration.logLevel)
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    let logger = Logger(label: configuration.serviceName)
    let host = MaestroServiceHost(configuration: configuration, logger: logger, registry: registry, jwksFetcher: jwksFetcher)
    do {
      try await host.run(components(host))
    } catch {
      logger.critical("\(configuration.serviceName) failed: \(Self.explain(error))")
      throw ExitCode.failure
    }
  }

  /// A one-line reason for the operator: domain errors by their message, others as described.
  public static func explain(_ error: any Error) -> String {
    if let maestro = error as? MaestroError {
      return maestro.cause.map { "\(maestro.message) (\($0))" } ?? maestro.message
    }
    return "\(error)"
  }
}
