public import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
public import MaestroProtos

/// `<service> probe`: asks a server's `grpc.health.v1.Health/Check` and exits 0 only when it
/// answers SERVING (like grpc_health_probe; usable as a Kubernetes exec probe and by scripts).
public struct ProbeCommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "probe",
    abstract: "Check a gRPC server's health; exit 0 when SERVING."
  )

  @Option(help: "host:port of the gRPC server.")
  public var target: String = "127.0.0.1:9090"

  @Option(help: "Service name to check; empty for the server as a whole.")
  public var service: String = ""

  @Option(help: "Seconds to wait for an answer.")
  public var timeout: Int = 3

  public init() {}

  public func run() async throws {
    let status = try await HealthProbe.check(target: self.target, service: self.service, timeout: .seconds(self.timeout))
    print("\(self.target) \(self.service.isEmpty ? "(server)" : self.service): \(status)")
    if status != .serving { throw ExitCode.failure }
  }
}

/// A one-shot health check client.
public enum HealthProbe {
  /// The status `target` (`host:port`) reports for `service`.
  public static func check(
    target: String,
    service: String = "",
    timeout: Duration = .seconds(3)
  ) async throws -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
    guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]) else {
      throw ValidationError("target must be host:port, got '\(target)'")
    }
    let host = String(target[..<colon]).trimmingCharacters(in: ["[", "]"])
    return try await withGRPCClient(
      transport: .http2NIOPosix(target: .dns(host: host, port: port), transportSecurity: .plaintext)
    ) { client in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      var options = CallOptions.defaults
      options.timeout = timeout
      return try await health.check(.with { $0.service = service }, options: options).status
    }
  }
}
