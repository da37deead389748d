import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroKit
import MaestroProtos
import SwiftProtobuf

/// Small API client subcommands (no grpcurl needed): each prints the response as proto JSON.
struct ClientOptions: ParsableArguments {
  @Option(help: "metrics-service gRPC address.")
  var target = "127.0.0.1:9103"

  @Option(help: "Bearer access token. [MAESTRO_TOKEN]")
  var token: String?

  func call<Response: SwiftProtobuf.Message>(
    _ body: @Sendable @escaping (Maestro_Metrics_V1_MetricsService.Client<HTTP2ClientTransport.Posix>, Metadata) async throws -> Response
  ) async throws {
    guard let target = HostPort(self.target) else { throw ValidationError("--target must be host:port") }
    guard let token = self.token ?? ProcessInfo.processInfo.environment["MAESTRO_TOKEN"], !token.isEmpty else {
      throw ValidationError("a token is required: --token or MAESTRO_TOKEN")
    }
    let response = try await withGRPCClient(
      transport: .http2NIOPosix(target: .dns(host: target.host, port: target.port), transportSecurity: .plaintext)
    ) { client in
      try await body(Maestro_Metrics_V1_MetricsService.Client(wrapping: client), ["authorization": "Bearer \(token)"])
    }
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    print(try response.jsonString(options: options))
  }
}

struct SLOStatusCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "slo-status", abstract: "GetSLOStatus of one SLO, or ListSLOStatuses without a name.")
  @OptionGroup var client: ClientOptions
  @Argument var name: String?

  func run() async throws {
    let name = self.name
    if let name {
      try await self.client.call { try await $0.getSLOStatus(.with { $0.sloName = name }, metadata: $1) }
    } else {
      try await self.client.call { try await $0.listSLOStatuses(.init(), metadata: $1) }
    }
  }
}

struct WorkflowStatsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "workflow-stats", abstract: "GetWorkflowStats over the last 24 h.")
  @OptionGroup var client: ClientOptions
  @Argument var workflow: String

  func run() async throws {
    let workflow = self.workflow
    try await self.client.call { try await $0.getWorkflowStats(.with { $0.workflow = workflow }, metadata: $1) }
  }
}

struct AlertsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "alerts", abstract: "ListAlerts (PENDING and FIRING; --all adds RESOLVED).")
  @OptionGroup var client: ClientOptions
  @Flag var all = false

  func run() async throws {
    let states: [Maestro_Metrics_V1_AlertState] = self.all ? [.pending, .firing, .resolved] : []
    try await self.client.call { try await $0.listAlerts(.with { $0.states = states }, metadata: $1) }
  }
}

struct CreateReceiverCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "create-receiver", abstract: "CreateReceiver (webhook, slack or pagerduty).")
  @OptionGroup var client: ClientOptions
  @Argument var name: String
  @Option var url: String
  @Option(help: "webhook, slack or pagerduty") var type = "webhook"
  @Option(help: "Secret name (PagerDuty routing key, webhook HMAC key).") var secretName = ""
  @Flag var sendResolved = false

  func run() async throws {
    let types: [String: Maestro_Metrics_V1_ReceiverType] = ["webhook": .webhook, "slack": .slack, "pagerduty": .pagerduty]
    guard let type = types[self.type] else { throw ValidationError("--type must be webhook, slack or pagerduty") }
    let receiver = Maestro_Metrics_V1_Receiver.with {
      $0.name = self.name
      $0.url = self.url
      $0.type = type
      $0.secretName = self.secretName
      $0.sendResolved = self.sendResolved
    }
    try await self.client.call { try await $0.createReceiver(.with { $0.receiver = receiver }, metadata: $1) }
  }
}
