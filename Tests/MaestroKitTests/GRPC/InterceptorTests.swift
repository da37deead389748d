import GRPCCore
import GRPCInProcessTransport
import Logging
import MaestroTestSupport
import MaestroCore
import MaestroKit
import Prometheus
import Testing

@Suite("Server interceptors")
struct InterceptorTests {
  static let permission: Permission = "probe.call"

  /// Runs an in-process server with the probe service behind both interceptors.
  func withServer(
    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    public isPublic: Bool = false,
    _ body: (GRPCClient<InProcessTransport.Client>, TestTokenIssuer) async throws -> Void
  ) async throws {
    let issuer = try await TestTokenIssuer.make()
    let verifier = TokenVerifier(configuration: .test(), fetcher: InMemoryJWKSFetcher(jwks: issuer.publicJWKS), logger: Logger(label: "test"))
    var policy = AccessPolicy()
    policy.require(isPublic ? .public : .permission(Self.permission), for: ProbeService.method.fullyQualifiedMethod)
    policy.grant([Self.permission], to: .workflowOperator)
    let transport = InProcessTransport()
    try await withGRPCServer(
      transport: transport.server,
      services: [ProbeService()],
      interceptors: [
        RequestContextInterceptor(logger: Logger(label: "test"), metrics: RPCMetrics(registry: registry, service: "test")),
        AuthenticationInterceptor(verifier: verifier, policy: policy),
      ]
    ) { _ in
      try await withGRPCClient(transport: transport.client) { client in
        try await body(client, issuer)
      }
    }
  }

  static func bearer(_ token: String) -> Metadata { ["authorization": "Bearer \(token)"] }

  @Test("an authorised call sees its principal and request id, which is echoed back")
  func authorised() async throws {
    try await self.withServer { client, issuer in
      let token = try await issuer.sign(TestTokenIssuer.claims(subject: "ops-1", tenant: "acme", roles: ["workflow-operator"]))
      var metadata = Self.bearer(token)
      metadata.addString("req-123", forKey: "x-request-id")
      let (answer, responseMetadata) = try await client.probe("whoami", metadata: metadata)
      #expect(answer == "req-123|ops-1|acme")
      #expect(Array(responseMetadata[stringValues: "x-request-id"]) == ["req-123"])
    }
  }

  @Test("a request without an id gets a generated one")
  func generatedRequestID() async throws {
    try await self.withServer(public: true) { client, _ in
      let (answer, metadata) = try await client.probe("whoami")
      let id = try #require(metadata[stringValues: "x-request-id"].first(where: { _ in true }))
      #expect(id.count == 32)
      #expect(answer == "\(id)|-|-")
    }
  }

  @Test("no token is UNAUTHENTICATED; a bad token too")
  func unauthenticated() async throws {
    try await self.withServer { client, _ in
      let missing = await #expect(throws: RPCError.self) { try await client.probe("whoami") }
      #expect(missing?.code == .unauthenticated)
      let bad = await #expect(throws: RPCError.self) { try await client.probe("whoami", metadata: Self.bearer("not.a.token")) }
      #expect(bad?.code == .unauthenticated)
    }
  }

  @Test("a role without the permission is PERMISSION_DENIED")
  func denied() async throws {
    try await self.withServer { client, issuer in
      let token = try await issuer.sign(TestTokenIssuer.claims(roles: ["viewer"]))
      let error = await #expect(throws: RPCError.self) { try await client.probe("whoami", metadata: Self.bearer(token)) }
      #expect(error?.code == .permissionDenied)
      #expect(error?.message.contains("probe.call") == true)
    }
  }

  @Test("domain errors keep their code, message and field")
  func domainError() async throws {
    try await self.withServer(public: true) { client, _ in
      let error = await #expect(throws: RPCError.self) { try await client.probe("invalid") }
      #expect(error?.code == .invalidArgument)
      #expect(error?.message == "value: must not be 'invalid'")
      #expect(error.map { Array($0.metadata[stringValues: "maestro-field"]) } == ["value"])
    }
  }

  @Test("unexpected errors reach the caller as UNKNOWN with the request id and no internals")
  func unexpectedError() async throws {
    try await self.withServer(public: true) { client, _ in
      let error = await #expect(throws: RPCError.self) {
        try await client.probe("boom", metadata: ["x-request-id": "req-9"])
      }
      #expect(error?.code == .unknown)
      #expect(error?.message == "internal error (request id req-9)")
      #expect(error?.description.contains("s3cret") == false)
    }
  }

  @Test("each RPC is counted by method and code")
  func metrics() async throws {
    let registry = PrometheusCollectorRegistry()
    try await self.withServer(registry: registry, public: true) { client, _ in
      _ = try await client.probe("whoami")
      _ = try? await client.probe("invalid")
    }
    let text = registry.emitToString()
    #expect(text.contains(#"maestro_grpc_requests_total{service="test",method="maestro.test.v1.Probe/Call",code="ok"} 1"#))
    #expect(text.contains(#"maestro_grpc_requests_total{service="test",method="maestro.test.v1.Probe/Call",code="invalidArgument"} 1"#))
    #expect(text.contains("maestro_grpc_request_duration_seconds_count"))
  }
}
