import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MaestroKit
import MaestroWorkflow
import ServiceLifecycle

@main
struct WorkflowServiceCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "workflow-service",
    abstract: "Maestro workflow-service: definitions, runs and the durable execution engine.",
    subcommands: [Serve.self, ProbeCommand.self, Worker.self],
    defaultSubcommand: Serve.self
  )

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (default).")
    @OptionGroup var options: ServiceOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var reporter: ReporterOptions

    func run() async throws {
      var settings: WorkflowServer.Settings
      do {
        let identity = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"
        settings = try self.engine.resolve(environment: ProcessInfo.processInfo.environment, identity: identity)
        settings.reporter = try self.reporter.resolve(serviceName: "workflow-service", environment: ProcessInfo.processInfo.environment)
      } catch {
        FileHandle.standardError.write(Data("workflow-service: \(error)\n".utf8))
        throw ExitCode(2)
      }
      try await MaestroMain.serve(options: self.options, defaults: WorkflowServer.defaults) { host in
        WorkflowServer.components(host: host, settings: settings)
      }
    }
  }

  struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run the reference worker: serves demo task queues through the public worker API (the gateway).",
      discussion: "Queues: \(ReferenceWorker.queues.joined(separator: ", ")). It authenticates with the client-credentials grant."
    )
    @Option(help: "The gateway's gRPC address (worker API and token endpoint). [MAESTRO_GATEWAY_TARGET, default 127.0.0.1:9090]")
    var target: String?
    @Option(help: "Service-account client id. [MAESTRO_WORKER_CLIENT_ID, default maestro-worker]")
    var clientID: String?
    @Option(help: "File holding the client secret. [MAESTRO_WORKER_SECRET_FILE, default .local/secrets/maestro-worker.secret]")
    var secretFile: String?
    @Option(help: "A bearer token to use instead of the client-credentials grant (tests, short-lived demos). [MAESTRO_WORKER_TOKEN]")
    var token: String?
    @Option(help: "Comma-separated task queues to serve. [default: all demo queues]")
    var queues: String?
    @Option(help: "Tasks worked at once.") var concurrency: Int = 4

    func run() async throws {
      let env = ProcessInfo.processInfo.environment
      let targetText = self.target ?? env["MAESTRO_GATEWAY_TARGET"] ?? "127.0.0.1:9090"
      guard let target = HostPort(targetText) else {
        FileHandle.standardError.write(Data("workflow-service worker: --target must be host:port, got '\(targetText)'\n".utf8))
        throw ExitCode(2)
      }
      let queues = (self.queues.map { $0.split(separator: ",").map(String.init) } ?? ReferenceWorker.queues)
      guard (1...64).contains(self.concurrency), !queues.isEmpty else {
        FileHandle.standardError.write(Data("workflow-service worker: --concurrency must be 1 to 64 and --queues non-empty\n".utf8))
        throw ExitCode(2)
      }
      LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
      let logger = Logger(label: "maestro.worker")
      let client = GRPCClient(transport: try .http2NIOPosix(target: .dns(host: target.host, port: target.port), transportSecurity: .plaintext))
      let tokens: any AccessTokenSource
      if let token = self.token ?? env["MAESTRO_WORKER_TOKEN"], !token.isEmpty {
        tokens = StaticTokenSource(token: token)
      } else {
        tokens = ClientCredentialsTokenSource(
          client: client, clientID: self.clientID ?? env["MAESTRO_WORKER_CLIENT_ID"] ?? "maestro-worker",
          secretFile: self.secretFile ?? env["MAESTRO_WORKER_SECRET_FILE"] ?? ".local/secrets/maestro-worker.secret"
        )
      }
      let worker = ReferenceWorker(
        client: client, tokens: tokens, queues: queues, concurrency: self.concurrency,
        identity: "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)", logger: logger
      )
      logger.info("worker started", metadata: ["target": "\(target)", "queues": "\(queues.joined(separator: ","))"])
      // SIGTERM / SIGINT stop polling; a task in flight finishes or its lease expires.
      let group = ServiceGroup(
        services: [GRPCClientService(client: client), WorkerLoop(worker: worker)],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
      )
      try await group.run()
    }
  }
}

/// Runs a gRPC client's connections for the life of the service group.
struct GRPCClientService: Service {
  let client: GRPCClient<HTTP2ClientTransport.Posix>

  func run() async throws {
    try await withGracefulShutdownHandler {
      try await self.client.runConnections()
    } onGracefulShutdown: {
      self.client.beginGracefulShutdown()
    }
  }
}

/// The reference worker as a service: stops polling on graceful shutdown.
struct WorkerLoop: Service {
  let worker: ReferenceWorker

  func run() async throws {
    try await cancelWhenGracefulShutdown { try await self.worker.run() }
  }
}

/// A fixed bearer token.
struct StaticTokenSource: AccessTokenSource {
  let token: String
  func token() async throws -> String { self.token }
}
