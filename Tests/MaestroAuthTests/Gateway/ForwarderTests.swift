import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MaestroAuth
import MaestroAuthModel
import MaestroCore
import MaestroKit
import MaestroTestSupport
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

/// The gRPC forwarder between two real HTTP/2 servers on loopback: an in-process gateway
/// (the production interceptors + ``ForwardingService``) and test backends that record what
/// reached them. Workflow- and migration-service are exercised through real processes in
/// SuiteTests; this suite pins the forwarding contract itself.
@Suite("gRPC forwarding: deadlines, metadata, status, streams, outages, replicas, rate limits")
struct ForwarderTests {
  static let unary = MethodDescriptor(fullyQualifiedService: "test.v1.Echo", method: "Unary")
  static let stream = MethodDescriptor(fullyQualifiedService: "test.v1.Echo", method: "Stream")

  /// A backend: `Unary` echoes the message and reports what it saw in the response metadata;
  /// a message "fail" answers NOT_FOUND with trailers; "slow" waits until cancelled. `Stream`
  /// sends one message per byte of the request, 100 ms apart.
  final class EchoBackend: RegistrableRPCService, Sendable {
    let name: String
    let seen: Mutex<[Metadata]>

    init(name: String) {
      self.name = name
      self.seen = Mutex([])
    }

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
      router.registerHandler(forMethod: ForwarderTests.unary, deserializer: RawMessageCodec(), serializer: RawMessageCodec()) { request, _ in
        self.seen.withLock { $0.append(request.metadata) }
        var message: [UInt8] = []
        for try await part in request.messages { message += part }
        if message == Array("fail".utf8) {
          throw RPCError(code: .notFound, message: "no such thing", metadata: ["maestro-field": "thing_id", "x-backend": .string(self.name)])
        }
        if message == Array("slow".utf8) {
          try await Task.sleep(for: .seconds(30))
        }
        var metadata: Metadata = ["x-backend": .string(self.name)]
        metadata.addString(request.metadata[stringValues: "grpc-timeout"].first { _ in true } ?? "none", forKey: "x-saw-timeout")
        let echoed = message
        return StreamingServerResponse(of: [UInt8].self, metadata: metadata) { writer in
          try await writer.write(echoed)
          return ["x-trailer": "t1"]
        }
      }
      router.registerHandler(forMethod: ForwarderTests.stream, deserializer: RawMessageCodec(), serializer: RawMessageCodec()) { request, _ in
        var message: [UInt8] = []
        for try await part in request.messages { message += part }
        let bytes = message
        return StreamingServerResponse(of: [UInt8].self, metadata: [:]) { writer in
          // The first message, then nothing until the client has seen it (or 10 s pass):
          // a gateway that buffered the stream would hold it back and time this out.
          try await writer.write([bytes[0]])
          let deadline = ContinuousClock.now + .seconds(10)
          while !self.released.withLock({ $0 }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
          }
          self.timedOut.withLock { $0 = !self.released.withLock { $0 } }
          for byte in bytes.dropFirst() { try await writer.write([byte]) }
          return ["x-stream-end": "yes"]
        }
      }
    }

    /// Set by the test once the first streamed message arrived.
    let released = Mutex(false)
    let timedOut = Mutex(false)

    var calls: Int { self.seen.withLock { $0.count } }
  }

  static let catalog = BackendCatalog(services: [
    ForwardedService(backend: "echo", descriptor: ServiceDescriptor(fullyQualifiedService: "test.v1.Echo"), methods: [unary, stream], serverStreaming: ["Stream"])
  ])

  static func policy() -> AccessPolicy {
    var policy = AccessPolicy()
    let echo = Permission(rawValue: "test.echo")
    policy.require(.permission(echo), for: unary.fullyQualifiedMethod)
    policy.require(.permission(echo), for: stream.fullyQualifiedMethod)
    policy.grant([echo], to: .viewer)
    return policy
  }

  static func server(services: [any RegistrableRPCService], interceptors: [any ServerInterceptor] = [], port: Int = 0) -> GRPCServer<HTTP2ServerTransport.Posix> {
    GRPCServer(
      transport: HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext),
      services: services,
      interceptors: interceptors
    )
  }

  static func port(_ server: GRPCServer<HTTP2ServerTransport.Posix>) async throws -> Int {
    try #require(try await server.transport.listeningAddress.ipv4?.port)
  }

  struct Harness {
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let issuer: TestTokenIssuer
    let backends: [EchoBackend]
    let backendServers: [GRPCServer<HTTP2ServerTransport.Posix>]

    func metadata(roles: [String] = ["viewer"], subject: String = "user-1", extra: Metadata = [:]) async throws -> Metadata {
      var metadata: Metadata = ["authorization": .string("Bearer \(try await self.issuer.sign(TestTokenIssuer.claims(subject: subject, roles: roles)))")]
      metadata.add(contentsOf: extra)
      return metadata
    }

    func unary(_ text: String, metadata: Metadata, timeout: Duration? = nil) async throws -> ClientResponse<[UInt8]> {
      var options = CallOptions.defaults
      options.timeout = timeout
      return try await self.client.unary(
        request: ClientRequest(message: Array(text.utf8), metadata: metadata),
        descriptor: ForwarderTests.unary, serializer: RawMessageCodec(), deserializer: RawMessageCodec(), options: options
      ) { $0 }
    }
  }

  /// Runs a gateway forwarding to `replicas` echo backends, with `rates` as rate limits.
  static func withHarness(
    replicas: Int = 1,
    rates: RateLimitPolicy = RateLimitPolicy(),
    clock: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds,
    _ body: @Sendable (Harness) async throws -> Void
  ) async throws {
    let issuer = try await TestTokenIssuer.make()
    let backends = (0..<replicas).map { EchoBackend(name: "b\($0)") }
    let backendServers = backends.map { Self.server(services: [$0]) }
    try await withThrowingTaskGroup(of: Void.self) { group in
      for server in backendServers { group.addTask { try await server.serve() } }
      var ports: [Int] = []
      for server in backendServers { ports.append(try await Self.port(server)) }
      var settings = BackendPool.Settings()
      settings.reconnectMaximum = .milliseconds(500)
      let pool = try BackendPool(
        addresses: ["echo": BackendAddresses(form: .addresses(ports.map { .init(host: "127.0.0.1", port: $0) }))],
        settings: settings,
        logger: Logger(label: "test.pool")
      )
      let poolGroup = ServiceGroup(services: [pool], logger: Logger(label: "test.pool"))
      group.addTask { try await poolGroup.run() }
      let verifier = TokenVerifier(configuration: .test(), fetcher: InMemoryJWKSFetcher(jwks: issuer.publicJWKS), logger: Logger(label: "test"))
      let limiter = RateLimiter(policy: rates, clock: clock)
      let gateway = Self.server(
        services: [ForwardingService(forwarder: Forwarder(catalog: Self.catalog, pool: pool))],
        interceptors: [
          RequestContextInterceptor(logger: Logger(label: "test.gateway"), metrics: RPCMetrics(registry: PrometheusCollectorRegistry(), service: "test")),
          AuthenticationInterceptor(verifier: verifier, policy: Self.policy()),
          ProtectionInterceptor(limiter: limiter, limits: RequestLimits()),
        ]
      )
      group.addTask { try await gateway.serve() }
      let gatewayPort = try await Self.port(gateway)
      try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: gatewayPort), transportSecurity: .plaintext)
      ) { client in
        try await body(Harness(client: client, issuer: issuer, backends: backends, backendServers: backendServers))
      }
      // Teardown without cancelling a server: a server task cancelled while it still holds
      // accepted but unhandled connections or streams (the pool reconnects at once after a
      // GOAWAY) traps in the HTTP/2 transport ("Deinited NIOAsyncWriter without calling
      // finish()"). So the pool's clients stop first, then every server drains and returns.
      await poolGroup.triggerGracefulShutdown()
      gateway.beginGracefulShutdown()
      for server in backendServers { server.beginGracefulShutdown() }
      try await group.waitForAll()
    }
  }

  @Test("unary: message, headers and trailers relayed; deadline, request id and traceparent forwarded; hop-by-hop stripped")
  func unaryRelay() async throws {
    try await Self.withHarness { harness in
      let metadata = try await harness.metadata(extra: ["x-request-id": "rid-42", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"])
      let response = try await harness.unary("hello", metadata: metadata, timeout: .seconds(60))
      #expect(try response.message == Array("hello".utf8))
      #expect(response.metadata[stringValues: "x-backend"].first { _ in true } == "b0")
      #expect(response.metadata[stringValues: "x-request-id"].first { _ in true } == "rid-42")
      #expect(response.trailingMetadata[stringValues: "x-trailer"].first { _ in true } == "t1")
      let sawTimeout = try #require(response.metadata[stringValues: "x-saw-timeout"].first { _ in true })
      let forwarded = try #require(ForwardedMetadata.timeout(in: ["grpc-timeout": .string(sawTimeout)]), "backend saw \(sawTimeout)")
      #expect(forwarded <= .seconds(60) && forwarded > .seconds(30), "the backend's deadline is the caller's, less the time spent: \(forwarded)")
      let seen = try #require(harness.backends[0].seen.withLock { $0.last })
      #expect(seen[stringValues: "x-request-id"].first { _ in true } == "rid-42")
      #expect(seen[stringValues: "traceparent"].first { _ in true } == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
      #expect(seen[stringValues: "authorization"].first { _ in true }?.hasPrefix("Bearer ") == true, "backends verify the token themselves")
      // Transport headers are the gateway client's own, never duplicated from the caller.
      for key in ["content-type", "te", "grpc-timeout", ":path", ":authority"] {
        #expect(Array(seen[stringValues: key]).count == 1, "\(key): \(Array(seen[stringValues: key]))")
      }
    }
  }

  @Test("a backend error keeps its code, message and trailers; a deadline ends the backend call")
  func errors() async throws {
    try await Self.withHarness { harness in
      let metadata = try await harness.metadata()
      let error = await #expect(throws: RPCError.self) { try await harness.unary("fail", metadata: metadata).message }
      #expect(error?.code == .notFound)
      #expect(error?.message == "no such thing")
      #expect(error?.metadata[stringValues: "maestro-field"].first { _ in true } == "thing_id")
      let started = ContinuousClock.now
      let late = await #expect(throws: RPCError.self) { try await harness.unary("slow", metadata: metadata, timeout: .milliseconds(500)).message }
      #expect(late?.code == .deadlineExceeded)
      #expect(ContinuousClock.now - started < .seconds(5))
    }
  }

  @Test("no token, a bad token, or a role without the permission never reach the backend")
  func denied() async throws {
    try await Self.withHarness { harness in
      let cases: [(Metadata, RPCError.Code)] = [
        ([:], .unauthenticated),
        (["authorization": "Bearer not.a.token"], .unauthenticated),
        (try await harness.metadata(roles: ["analyst"]), .permissionDenied),
      ]
      for (metadata, code) in cases {
        let error = await #expect(throws: RPCError.self) { try await harness.unary("hi", metadata: metadata).message }
        #expect(error?.code == code)
      }
      let viewerOtherTenant = try await harness.metadata(extra: ["x-maestro-tenant": "other"])
      let crossTenant = await #expect(throws: RPCError.self) { try await harness.unary("hi", metadata: viewerOtherTenant).message }
      #expect(crossTenant?.code == .permissionDenied)
      #expect(harness.backends[0].calls == 0)
    }
  }

  @Test("server streaming: each message arrives before the stream ends, then the trailers")
  func streaming() async throws {
    try await Self.withHarness { harness in
      let metadata = try await harness.metadata()
      let backend = harness.backends[0]
      let (received, trailers) = try await harness.client.serverStreaming(
        request: ClientRequest(message: Array("abcde".utf8), metadata: metadata),
        descriptor: Self.stream, serializer: RawMessageCodec(), deserializer: RawMessageCodec(), options: .defaults
      ) { response in
        var received: [UInt8] = []
        var trailers: Metadata = [:]
        for try await part in response.bodyParts {
          switch part {
          case .message(let message):
            received += message
            backend.released.withLock { $0 = true }
          case .trailingMetadata(let metadata):
            trailers = metadata
          }
        }
        return (received, trailers)
      }
      #expect(received == Array("abcde".utf8))
      #expect(!backend.timedOut.withLock { $0 }, "the first message was held back until the backend gave up waiting")
      #expect(trailers[stringValues: "x-stream-end"].first { _ in true } == "yes")
    }
  }

  @Test("a backend that is down answers UNAVAILABLE at once; calls succeed again when it returns")
  func outage() async throws {
    try await Self.withHarness { harness in
      let metadata = try await harness.metadata()
      _ = try await harness.unary("up", metadata: metadata).message
      let port = try await Self.port(harness.backendServers[0])
      harness.backendServers[0].beginGracefulShutdown()
      // Send nothing while it drains: a stream that reaches an in-process server in the middle
      // of its graceful shutdown trips a fatal error in the HTTP/2 transport ("Deinited
      // NIOAsyncWriter without calling finish()"), which would take the whole test process down.
      // Wait until its port refuses connections and the GOAWAY has reached the gateway.
      try await Self.waitUntilClosed(port: port, timeout: .seconds(10))
      try await Task.sleep(for: .milliseconds(300))
      let deadline = ContinuousClock.now + .seconds(10)
      var failure: RPCError?
      var failedIn: Duration = .zero
      while ContinuousClock.now < deadline {
        let started = ContinuousClock.now
        do {
          _ = try await harness.unary("down?", metadata: metadata, timeout: .seconds(60)).message
          try await Task.sleep(for: .milliseconds(50))
        } catch let error as RPCError {
          failure = error
          failedIn = ContinuousClock.now - started
          break
        }
      }
      #expect(failure?.code == .unavailable)
      #expect(failedIn < .seconds(15), "UNAVAILABLE took \(failedIn), not the caller's 60 s deadline")
      // Back on the same port: the gateway reconnects by itself.
      let revived = EchoBackend(name: "revived")
      let server = Self.server(services: [revived], port: port)
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.serve() }
        let recovery = ContinuousClock.now + .seconds(15)
        var recovered = false
        while ContinuousClock.now < recovery, !recovered {
          recovered = (try? await harness.unary("back", metadata: metadata).message) != nil
          if !recovered { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(recovered)
        #expect(revived.calls >= 1)
        server.beginGracefulShutdown()
        try await group.waitForAll()
      }
    }
  }

  @Test("calls are spread over every replica of a backend")
  func replicas() async throws {
    try await Self.withHarness(replicas: 3) { harness in
      let metadata = try await harness.metadata()
      // Round robin starts once every subchannel is ready: allow a warm-up (long on a loaded machine).
      let deadline = ContinuousClock.now + .seconds(120)
      while ContinuousClock.now < deadline, harness.backends.contains(where: { $0.calls == 0 }) {
        _ = try await harness.unary("x", metadata: metadata).message
      }
      for backend in harness.backends { #expect(backend.calls > 0, "\(backend.name) received no calls") }
      let before = harness.backends.map(\.calls)
      for _ in 0..<30 { _ = try await harness.unary("x", metadata: metadata).message }
      let added = zip(harness.backends.map(\.calls), before).map { $0 - $1 }
      #expect(added.allSatisfy { $0 >= 5 }, "uneven spread: \(added)")
    }
  }

  @Test("the rate limit answers RESOURCE_EXHAUSTED with retry-after, and recovers")
  func rateLimit() async throws {
    let clock = RateLimitTests.ManualClock()
    let rates = RateLimitPolicy(principal: .init(perSecond: 0.5, burst: 2), roles: [:], tenant: .init(perSecond: 1000, burst: 1000))
    try await Self.withHarness(rates: rates, clock: { clock.now.withLock { $0 } }) { harness in
      let metadata = try await harness.metadata()
      _ = try await harness.unary("1", metadata: metadata).message
      _ = try await harness.unary("2", metadata: metadata).message
      let limited = await #expect(throws: RPCError.self) { try await harness.unary("3", metadata: metadata).message }
      #expect(limited?.code == .resourceExhausted)
      #expect(limited?.metadata[stringValues: "retry-after"].first { _ in true } == "2")
      // Another principal is not affected.
      _ = try await harness.unary("other", metadata: try await harness.metadata(subject: "user-2")).message
      // Two seconds later a token is back.
      clock.advance(2)
      _ = try await harness.unary("4", metadata: metadata).message
      #expect(harness.backends[0].calls == 4)
    }
  }

  /// Polls until nothing accepts TCP connections on 127.0.0.1:`port`.
  static func waitUntilClosed(port: Int, timeout: Duration) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = in_port_t(UInt16(port).bigEndian)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
      close(socketFD)
      if result != 0 { return }
      try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("port \(port) still accepts connections after \(timeout)")
  }
}
