import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MaestroKit
import MaestroProtos
import ServiceLifecycle
import Testing

@Suite("Health")
struct HealthTests {
  @Test("the store reports per-service status and drains everything to NOT_SERVING")
  func store() async {
    let store = HealthStatusStore()
    #expect(store.status(of: "svc") == nil)
    store.set(.serving, for: "svc")
    store.set(.serving)
    #expect(store.status(of: "svc") == .serving)

    var updates = store.watch("svc").makeAsyncIterator()
    #expect(await updates.next() == .some(.serving))
    store.drain()
    #expect(await updates.next() == .some(.notServing))
    #expect(await updates.next() == nil)
    #expect(store.status(of: "svc") == .notServing)
    #expect(store.status() == .notServing)

    store.set(.serving, for: "svc")
    #expect(store.status(of: "svc") == .notServing, "a draining server never reports SERVING again")
  }

  @Test("over HTTP/2: SERVING while running, NOT_SERVING on graceful shutdown, then the server exits")
  func drainOverHTTP2() async throws {
    let store = HealthStatusStore()
    let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
    let server = GRPCServer(transport: transport, services: [HealthService(store: store)])
    let host = GRPCServerHost(
      server: server,
      health: store,
      servedServices: ["maestro.test.v1.Thing"],
      drainDelay: .milliseconds(50),
      logger: Logger(label: "test")
    )
    let group = ServiceGroup(services: [host], logger: Logger(label: "test"))

    try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask { try await group.run() }
      let port = try await host.listeningPort
      try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
      ) { client in
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        #expect(try await health.check(.with { $0.service = "maestro.test.v1.Thing" }).status == .serving)
        #expect(try await health.check(.init()).status == .serving)
        let unknown = await #expect(throws: RPCError.self) { try await health.check(.with { $0.service = "nope" }) }
        #expect(unknown?.code == .notFound)

        // A watcher sees SERVING, then NOT_SERVING when the drain starts, then its stream ends.
        try await health.watch(.with { $0.service = "maestro.test.v1.Thing" }) { response in
          var statuses: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
          for try await message in response.messages {
            statuses.append(message.status)
            if statuses.count == 1 { await group.triggerGracefulShutdown() }
          }
          #expect(statuses == [.serving, .notServing])
        }
      }
      try await tasks.waitForAll()
    }
    #expect(store.isDraining)
  }
}
