import Foundation
public import GRPCCore
public import GRPCNIOTransportHTTP2
public import MaestroProtos
import Synchronization

/// An access token for service-to-service calls.
public protocol AccessTokenSource: Sendable {
  /// A currently valid bearer token.
  func token() async throws -> String
}

/// Obtains and caches a service-account token from auth-gateway with the client-credentials
/// grant (`maestro.auth.v1.AuthService/Token` over gRPC), renewing it a minute before expiry.
/// The client secret is read from its file at each renewal and never logged.
public final class ClientCredentialsTokenSource: AccessTokenSource {
  private let client: GRPCClient<HTTP2ClientTransport.Posix>
  private let clientID: String
  private let secretFile: String
  private let cached = Mutex<(token: String, expires: Date)?>(nil)

  public init(client: GRPCClient<HTTP2ClientTransport.Posix>, clientID: String, secretFile: String) {
    self.client = client
    self.clientID = clientID
    self.secretFile = secretFile
  }

  public func token() async throws -> String {
    if let cached = self.cached.withLock({ $0 }), cached.expires > Date().addingTimeInterval(60) { return cached.token }
    guard let data = FileManager.default.contents(atPath: self.secretFile) else {
      throw RPCError(code: .unauthenticated, message: "client secret file \(self.secretFile) is not readable")
    }
    let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    let auth = Maestro_Auth_V1_AuthService.Client(wrapping: self.client)
    let response = try await auth.token(.with {
      $0.grantType = "client_credentials"
      $0.clientID = self.clientID
      $0.clientSecret = secret
    })
    let expires = Date().addingTimeInterval(TimeInterval(max(60, response.expiresIn)))
    self.cached.withLock { $0 = (response.accessToken, expires) }
    return response.accessToken
  }

  /// Forgets the cached token (after the server refused it).
  public func invalidate() { self.cached.withLock { $0 = nil } }
}

/// Sends outcome batches to metrics-service's `RecordEvents` with a service-account token.
public struct MetricsServiceSink: OutcomeSink {
  let client: GRPCClient<HTTP2ClientTransport.Posix>
  let tokens: any AccessTokenSource
  let authClient: GRPCClient<HTTP2ClientTransport.Posix>?

  /// - Parameters:
  ///   - metricsTarget: metrics-service's gRPC address (`host:port`).
  ///   - tokens: where bearer tokens come from.
  ///   - authClient: the gateway client behind `tokens`, run alongside (nil when shared).
  public init(client: GRPCClient<HTTP2ClientTransport.Posix>, tokens: any AccessTokenSource, authClient: GRPCClient<HTTP2ClientTransport.Posix>? = nil) {
    self.client = client
    self.tokens = tokens
    self.authClient = authClient
  }

  /// A sink for `metricsTarget` whose tokens come from the gateway at `authTarget` with the
  /// client-credentials grant.
  public static func make(metricsTarget: HostPort, authTarget: HostPort, clientID: String, secretFile: String) throws -> MetricsServiceSink {
    let metrics = GRPCClient(transport: try .http2NIOPosix(target: .dns(host: metricsTarget.host, port: metricsTarget.port), transportSecurity: .plaintext))
    let auth = GRPCClient(transport: try .http2NIOPosix(target: .dns(host: authTarget.host, port: authTarget.port), transportSecurity: .plaintext))
    return MetricsServiceSink(client: metrics, tokens: ClientCredentialsTokenSource(client: auth, clientID: clientID, secretFile: secretFile), authClient: auth)
  }

  public func send(batchID: String, events: [Maestro_Metrics_V1_OutcomeEvent]) async throws -> Int {
    let token = try await self.tokens.token()
    let metrics = Maestro_Metrics_V1_MetricsService.Client(wrapping: self.client)
    do {
      let response = try await metrics.recordEvents(
        .with {
          $0.batchID = batchID
          $0.events = events
        },
        metadata: ["authorization": "Bearer \(token)"]
      )
      return Int(response.rejected)
    } catch let error as RPCError where error.code == .unauthenticated {
      (self.tokens as? ClientCredentialsTokenSource)?.invalidate()
      throw error
    }
  }

  public func run() async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await self.client.runConnections() }
      if let auth = self.authClient { group.addTask { try await auth.runConnections() } }
      // Runs until the reporter cancels it.
      try await group.next()
      group.cancelAll()
    }
  }
}

/// A `host:port` pair parsed from configuration.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
  public var host: String
  public var port: Int

  public init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  /// Parses `host:port`; nil when malformed.
  public init?(_ text: String) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else { return nil }
    let host = String(text[..<colon])
    guard !host.isEmpty else { return nil }
    self.init(host: host, port: port)
  }

  public var description: String { "\(self.host):\(self.port)" }
}
