import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A local HTTP server on port 0 for `http` step tests:
///   GET  /ok            → 200 {"hello": "world"} (JSON)
///   POST /echo          → 200 {"body": <request body>, "token": <x-token header>, "method": ...}
///   GET  /status/{code} → that status, a text body
///   GET  /slow          → 200 after 3 s
/// and counts the requests it served.
final class TestHTTPServer: Sendable {
  let baseURL: String
  private let requests: Counter

  private init(baseURL: String, requests: Counter) {
    self.baseURL = baseURL
    self.requests = requests
  }

  static func with(_ body: @Sendable (TestHTTPServer) async throws -> Void) async throws {
    let requests = Counter()
    let router = Router()
    router.get("/ok") { _, _ -> Response in
      requests.increment()
      return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"hello": "world"}"#)))
    }
    router.post("/echo") { request, _ -> Response in
      requests.increment()
      let buffer = try await request.body.collect(upTo: 1 << 20)
      let token = request.headers[.init("x-token")!] ?? ""
      let payload = #"{"body": \#(String(buffer: buffer).isEmpty ? "null" : String(buffer: buffer)), "token": "\#(token)"}"#
      return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: payload)))
    }
    router.get("/text/{n}") { _, context -> Response in
      requests.increment()
      let texts = ["1": "Ada Lovelace met engineers from ACME in London.", "2": "Grace Hopper presented the compiler to NATO; ACME sent Alan Turing."]
      guard let text = texts[context.parameters.get("n") ?? ""] else { return Response(status: .notFound) }
      return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
    router.get("/records") { request, _ -> Response in
      requests.increment()
      let limit = min(Int(request.uri.queryParameters.get("limit") ?? "") ?? 10, 1_000)
      let records = (0..<limit).map { #"{"id": \#($0), "value": \#($0 * 10)}"# }.joined(separator: ", ")
      return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"records": [\#(records)]}"#)))
    }
    router.get("/status/{code}") { _, context -> Response in
      requests.increment()
      let code = Int(context.parameters.get("code") ?? "") ?? 500
      return Response(status: .init(code: code), body: .init(byteBuffer: ByteBuffer(string: "status \(code)")))
    }
    router.get("/slow") { _, _ -> Response in
      requests.increment()
      try await Task.sleep(for: .seconds(3))
      return Response(status: .ok)
    }
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    var logger = Logger(label: "test.http-server")
    logger.logLevel = .warning
    let app = Application(
      router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
      onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
    let group = ServiceGroup(services: [app], logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask { try await group.run() }
      var iterator = ports.makeAsyncIterator()
      guard let port = await iterator.next() else { throw CancellationError() }
      let server = TestHTTPServer(baseURL: "http://127.0.0.1:\(port)", requests: requests)
      let result: Result<Void, any Error>
      do { result = .success(try await body(server)) } catch { result = .failure(error) }
      await group.triggerGracefulShutdown()
      for try await _ in tasks {}
      try result.get()
    }
  }

  var requestCount: Int { self.requests.value.withLock { $0 } }

  final class Counter: Sendable {
    let value = Mutex(0)
    func increment() { self.value.withLock { $0 += 1 } }
  }
}
