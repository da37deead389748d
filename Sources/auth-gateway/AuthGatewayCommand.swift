import ArgumentParser
import Foundation
import MaestroAuth
import MaestroKit

@main
struct AuthGatewayCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "auth-gateway",
    abstract: "Maestro auth-gateway: the public REST and gRPC door, identity and access control.",
    subcommands: [Serve.self, ProbeCommand.self],
    defaultSubcommand: Serve.self
  )

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (default).")
    @OptionGroup var options: ServiceOptions

    @Option(help: "REST (JSON) port (0 picks a free port). [MAESTRO_REST_PORT, default 8080]")
    var restPort: Int?

    func run() async throws {
      let environment = ConfigurationResolver(environment: ProcessInfo.processInfo.environment)
      let restPort: Int
      do {
        restPort = try environment.resolve(self.restPort, env: "MAESTRO_REST_PORT", default: GatewayServer.defaultRESTPort)
      } catch {
        FileHandle.standardError.write(Data("auth-gateway: \(error)\n".utf8))
        throw ExitCode(2)
      }
      try await MaestroMain.serve(options: self.options, defaults: GatewayServer.defaults) { host in
        GatewayServer.components(host: host, restPort: restPort)
      }
    }
  }
}
