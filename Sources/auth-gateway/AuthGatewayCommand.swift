import ArgumentParser
import Foundation
import MaestroAuth
import MaestroKit

@main
struct AuthGatewayCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "auth-gateway",
    abstract: "Maestro auth-gateway: the public REST and gRPC door, identity and access control.",
    subcommands: [Serve.self, ProbeCommand.self, RolesTableCommand.self, OpenAPICommand.self],
    defaultSubcommand: Serve.self
  )

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (default).")
    @OptionGroup var options: ServiceOptions
    @OptionGroup var reporter: ReporterOptions

    @Option(help: "REST (JSON) port (0 picks a free port). [MAESTRO_REST_PORT, default 8080]")
    var restPort: Int?

    func run() async throws {
      let environment = ProcessInfo.processInfo.environment
      let restPort: Int
      var service: ServiceConfiguration
      let gateway: GatewayConfiguration
      let reporting: ReporterOptions.Settings?
      do {
        restPort = try ConfigurationResolver(environment: environment).resolve(self.restPort, env: "MAESTRO_REST_PORT", default: GatewayServer.defaultRESTPort)
        service = try self.options.resolve(defaults: GatewayServer.defaults, environment: environment)
        gateway = try GatewayConfiguration.fromEnvironment(environment, restPort: restPort)
        reporting = try self.reporter.resolve(serviceName: "auth-gateway", environment: environment)
      } catch {
        FileHandle.standardError.write(Data("auth-gateway: \(error)\n".utf8))
        throw ExitCode(2)
      }
      // The gateway verifies its own tokens against its in-process key ring: re-reading it is
      // free, so new and withdrawn keys take effect here within a second.
      service.token.maximumKeyAge = .seconds(1)
      service.token.minimumRefreshInterval = .zero
      let keyRing = KeyRing()
      try await MaestroMain.serve(configuration: service, jwksFetcher: keyRing) { host in
        let runtime = GatewayRuntime(configuration: gateway, database: host.database, logger: host.logger, keyRing: keyRing)
        guard let reporting else { return try GatewayServer.components(host: host, runtime: runtime, restPort: restPort) }
        // Request outcomes go to metrics-service as the gateway's own service account (its token
        // comes from this gateway's Token RPC once it serves; until then batches wait and retry).
        let reporter = try reporting.makeReporter(registry: host.registry, logger: host.logger)
        var components = try GatewayServer.components(
          host: host, runtime: runtime, restPort: restPort, reporter: MetricsGatewayOutcomeReporter(reporter: reporter)
        )
        components.backgroundServices.insert(reporter, at: 0)
        return components
      }
    }
  }

  struct RolesTableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "roles-table", abstract: "Print the README's roles table, generated from the permission matrix.")
    func run() { print(RolesTable.markdown()) }
  }

  struct OpenAPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "openapi", abstract: "Print the REST API's OpenAPI 3 document (what GET /openapi.json serves).")
    @Option(help: "The server URL written into the document.")
    var serverURL = "http://127.0.0.1:8080"
    func run() { print(String(decoding: OpenAPIDocument.json(serverURL: self.serverURL), as: UTF8.self)) }
  }
}
