import AsyncHTTPClient
import Foundation
import GRPCCore
import MaestroProtos
@testable import MaestroWorkflow
import MaestroWorkflowModel
import Testing

@Suite("Outbound allowlist (pure)")
struct HostAllowlistTests {
  @Test("hosts, host:port, wildcard subdomains, IPv6 literals and the explicit '*'")
  func matching() {
    let list = HostAllowlist(entries: ["localhost", "127.0.0.1:8080", "*.example.com", "[::1]:9000", " API.Internal "])
    #expect(list.allows(host: "localhost", port: 1234))
    #expect(list.allows(host: "LOCALHOST", port: 80))
    #expect(list.allows(host: "127.0.0.1", port: 8080))
    #expect(!list.allows(host: "127.0.0.1", port: 8081), "the port is part of the entry")
    #expect(list.allows(host: "a.b.example.com", port: 443))
    #expect(!list.allows(host: "example.com", port: 443), "*.domain is subdomains only")
    #expect(!list.allows(host: "evilexample.com", port: 443))
    #expect(list.allows(host: "[::1]", port: 9000))
    #expect(!list.allows(host: "::1", port: 9001))
    #expect(list.allows(host: "api.internal", port: 80))
    #expect(!list.allows(host: "169.254.169.254", port: 80))
    #expect(!HostAllowlist.loopback.allows(host: "10.0.0.1", port: 80))
    #expect(HostAllowlist(entries: ["*"]).allows(host: "anything.at.all", port: 1))
  }
}

@Suite("http steps (real Postgres, local HTTP server)")
struct HTTPStepTests {
  /// Runs `body` with an engine whose http steps may reach loopback, with the secret
  /// `api-token` = "s3cret-value" for tenant acme.
  static func with(_ body: @escaping @Sendable (EngineHarness, TestHTTPServer) async throws -> Void) async throws {
    let secrets = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-secrets-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: secrets.appendingPathComponent("acme"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: secrets) }
    try "s3cret-value\n".write(to: secrets.appendingPathComponent("acme/api-token"), atomically: true, encoding: .utf8)
    var settings = HTTPStepSettings()
    settings.secretsDirectory = secrets.path
    let client = HTTPClientService.makeClient()
    do {
      let executor = EngineStepExecutor(http: HTTPStepExecutor(client: client, settings: settings, maxTimeout: .seconds(10)))
      try await TestHTTPServer.with { server in
        try await EngineHarness.with(executor: executor) { harness in try await body(harness, server) }
      }
    } catch {
      try await client.shutdown()
      throw error
    }
    try await client.shutdown()
  }

  @Test("GET parses a JSON body; POST sends the evaluated body and a secret header whose value is never stored")
  func success() async throws {
    try await Self.with { harness, server in
      try await harness.register("""
        name: calls
        parameters: [{name: who, type: PARAMETER_TYPE_STRING, required: true}]
        steps:
          - {id: get, type: http, http: {url: "\(server.baseURL)/ok"}}
          - id: post
            type: http
            depends_on: [get]
            http:
              method: post
              url: "\(server.baseURL)/echo"
              secret_headers: {x-token: api-token}
              body: {greeting: "${steps.get.output.body.hello}, ${input.who}"}
        output: {get: "${steps.get.output.body}", status: "${steps.get.output.status}", echo: "${steps.post.output.body}"}
        """)
      let run = try await harness.waitForTerminal(try await harness.start("calls", input: ["who": "maestro"]).run.id)
      #expect(run.status == .completed)
      #expect(JSONValue(run.output) == [
        "get": ["hello": "world"], "status": 200, "echo": ["body": ["greeting": "world, maestro"], "token": "s3cret-value"],
      ])
      // The secret reached the server but is in no stored input or event.
      let stored = try await harness.adminQuery("SELECT coalesce(string_agg(input::text, ' '), '') FROM workflow.step_executions")
      #expect(stored.first?.contains("api-token") == true)
      #expect(stored.first?.contains("s3cret-value") == false)
      let events = try await harness.adminQuery("SELECT count(*)::text FROM workflow.run_events WHERE payload::text LIKE '%s3cret-value%' AND type NOT IN ('STEP_COMPLETED', 'RUN_COMPLETED')")
      #expect(events == ["0"], "only the server's own echo (the step's and the run's output) may contain it")
    }
  }

  @Test("unexpected statuses fail (4xx user error, 5xx retried as platform error); expected_status accepts others")
  func statuses() async throws {
    try await Self.with { harness, server in
      try await harness.register("{name: notfound, steps: [{id: s, type: http, http: {url: '\(server.baseURL)/status/404'}}]}")
      try await harness.register("""
        {name: flaky, steps: [{id: s, type: http, http: {url: '\(server.baseURL)/status/503'},
          retry_policy: {max_attempts: 2, initial_backoff: 0.01s}}]}
        """)
      try await harness.register("{name: tolerant, steps: [{id: s, type: http, http: {url: '\(server.baseURL)/status/404', expected_status: [404]}}], output: {b: '${steps.s.output.body}'}}")
      let notFound = try await harness.waitForTerminal(try await harness.start("notfound").run.id)
      #expect(notFound.status == .failed)
      #expect(notFound.error.message.contains("answered 404"))
      #expect(notFound.steps.first?.error.errorClass == .user)
      let flaky = try await harness.waitForTerminal(try await harness.start("flaky").run.id)
      #expect(flaky.status == .failed)
      #expect(flaky.steps.first?.attempt == 2, "the 503 was retried once")
      #expect(flaky.steps.first?.error.errorClass == .platform)
      let tolerant = try await harness.waitForTerminal(try await harness.start("tolerant").run.id)
      #expect(tolerant.status == .completed)
      #expect(JSONValue(tolerant.output) == ["b": "status 404"])
    }
  }

  @Test("a slow target times out (TIMEOUT error class); a target off the allowlist is blocked without a request")
  func timeoutAndBlocked() async throws {
    try await Self.with { harness, server in
      try await harness.register("{name: slow, steps: [{id: s, type: http, timeout: 0.3s, retry_policy: {max_attempts: 1}, http: {url: '\(server.baseURL)/slow'}}]}")
      try await harness.register("{name: outside, steps: [{id: s, type: http, http: {url: 'http://169.254.169.254/latest/meta-data'}}]}")
      let slow = try await harness.waitForTerminal(try await harness.start("slow").run.id)
      #expect(slow.status == .failed)
      #expect(slow.steps.first?.error.errorClass == .timeout)
      let before = server.requestCount
      let blocked = try await harness.waitForTerminal(try await harness.start("outside").run.id)
      #expect(blocked.status == .failed)
      #expect(blocked.error.message.contains("allowlist"))
      #expect(blocked.steps.first?.attempt == 1, "a blocked target is not retried")
      #expect(server.requestCount == before)
    }
  }

  @Test("registration rejects a bad url, method, header, secret name or status with their paths")
  func validation() async throws {
    try await Self.with { harness, _ in
      let rejected = await #expect(throws: RPCError.self) {
        try await harness.register("""
          {name: bad, steps: [{id: s, type: http, http: {url: 'ftp://x', method: TRACE, headers: {'bad header': v},
            secret_headers: {x-a: 'no/slash'}, expected_status: [700]}}]}
          """)
      }
      #expect(rejected?.code == .invalidArgument)
      for path in ["steps[0].http.url", "steps[0].http.method", "steps[0].http.headers.bad header", "steps[0].http.secret_headers.x-a", "steps[0].http.expected_status[0]"] {
        #expect(rejected?.message.contains(path) == true, "\(path) is reported")
      }
    }
  }
}
