import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import HummingbirdTLS
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import NIOCore
import Testing

/// TLS on both public listeners, with a self-signed certificate generated for the test.
@Suite("auth-gateway TLS: REST (TLS 1.3 only) and gRPC with a configured certificate")
struct GatewayTLSTests {
  /// Runs openssl with `arguments`; its combined output and exit status.
  static func openssl(_ arguments: [String], input: String = "") throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["openssl"] + arguments
    let output = Pipe()
    let stdin = Pipe()
    process.standardOutput = output
    process.standardError = output
    process.standardInput = stdin
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test("REST and gRPC serve TLS 1.3 with the configured certificate; TLS 1.2 and plaintext are refused on REST")
  func tls() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-tls-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let cert = directory + "/cert.pem"
    let key = directory + "/key.pem"
    let generated = try Self.openssl([
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
      "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ])
    try #require(generated.status == 0, "\(generated.output)")

    try await TestDatabase.with { db in
      try await db.migrate()
      let gateway = try ServiceProcess(
        name: "auth-gateway",
        arguments: ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0", "--rest-port", "0"],
        environment: [
          "MAESTRO_DATABASE_URL": db.serviceURL(schema: "auth"),
          "MAESTRO_MASTER_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
          "MAESTRO_BOOTSTRAP_ADMIN_PASSWORD": "tls test admin password",
          "MAESTRO_BOOTSTRAP_ADMIN_PASSWORD_FILE": directory + "/admin.password",
          "MAESTRO_BOOTSTRAP_SECRETS_DIR": directory + "/secrets",
          "MAESTRO_LOG_FORMAT": "json",
          "MAESTRO_TLS_CERT_FILE": cert,
          "MAESTRO_TLS_KEY_FILE": key,
        ]
      )
      let grpcPort = try await gateway.port("grpc_port")
      let restPort = try await gateway.port("rest_port")

      // gRPC over TLS, trusting the generated certificate: health, then a token.
      let transport = try HTTP2ClientTransport.Posix(
        target: .ipv4(address: "127.0.0.1", port: grpcPort),
        transportSecurity: .tls(.defaults { $0.trustRoots = .certificates([.file(path: cert, format: .pem)]) })
      )
      try await withGRPCClient(transport: transport) { client in
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        let deadline = ContinuousClock.now + .seconds(60)
        var status: Grpc_Health_V1_HealthCheckResponse.ServingStatus = .unknown
        while ContinuousClock.now < deadline, status != .serving {
          status = (try? await health.check(.init()).status) ?? .unknown
          if status != .serving { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(status == .serving)
        let token = try await Maestro_Auth_V1_AuthService.Client(wrapping: client).token(.with {
          $0.grantType = "password"
          $0.username = "admin"
          $0.password = "tls test admin password"
        })
        #expect(token.accessToken.split(separator: ".").count == 3)
      }

      // REST over TLS 1.3.
      var tls = TLSConfiguration.makeClientConfiguration()
      tls.trustRoots = .file(cert)
      tls.minimumTLSVersion = .tlsv13
      let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
      let response = try await client.execute(HTTPClientRequest(url: "https://localhost:\(restPort)/healthz"), timeout: .seconds(10))
      #expect(response.status == .ok)
      #expect(String(buffer: try await response.body.collect(upTo: 1024)) == #"{"status":"SERVING"}"#)
      try await client.shutdown()

      // A TLS 1.2-only client and a plaintext client are refused by the REST port.
      var old = TLSConfiguration.makeClientConfiguration()
      old.trustRoots = .file(cert)
      old.maximumTLSVersion = .tlsv12
      let oldClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: old))
      await #expect(throws: (any Error).self) { _ = try await oldClient.execute(HTTPClientRequest(url: "https://localhost:\(restPort)/healthz"), timeout: .seconds(10)) }
      try await oldClient.shutdown()
      await #expect(throws: (any Error).self) {
        let plain = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(restPort)/healthz"), timeout: .seconds(10))
        _ = try await plain.body.collect(upTo: 1024)
      }

      // Both listeners negotiate TLS 1.3.
      for port in [restPort, grpcPort] {
        let handshake = try Self.openssl(["s_client", "-connect", "127.0.0.1:\(port)", "-tls1_3", "-CAfile", cert, "-servername", "localhost", "-alpn", port == grpcPort ? "h2" : "http/1.1"])
        #expect(handshake.output.contains("TLSv1.3"), "port \(port):\n\(handshake.output)")
        #expect(handshake.output.contains("Verify return code: 0"), "port \(port):\n\(handshake.output)")
      }
      #expect(try await gateway.stop(signal: SIGTERM, timeout: .seconds(15)) == 0)
    }
  }
}
