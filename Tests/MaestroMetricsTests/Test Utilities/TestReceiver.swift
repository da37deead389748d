import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A local HTTP receiver on port 0: answers 503 to its first `failures` POSTs, then 200, and
/// keeps every body it was sent (including the refused ones).
final class TestReceiver: Sendable {
  final class State: Sendable {
    let value: Mutex<(remainingFailures: Int, bodies: [String], accepted: [String], headers: [[String: String]])>
    init(failures: Int) { self.value = Mutex((failures, [], [], [])) }
    func withLock<T>(_ body: (inout (remainingFailures: Int, bodies: [String], accepted: [String], headers: [[String: String]])) -> T) -> T {
      self.value.withLock { body(&$0) }
    }
  }

  private let state: State
  let url: String

  private init(url: String, state: State) {
    self.url = url
    self.state = state
  }

  var attempts: Int { self.state.withLock { $0.bodies.count } }
  var accepted: [String] { self.state.withLock { $0.accepted } }
  var headers: [[String: String]] { self.state.withLock { $0.headers } }

  static func with<Result: Sendable>(failures: Int = 0, _ body: @Sendable (TestReceiver) async throws -> Result) async throws -> Result {
    let state = State(failures: failures)
    let router = Router()
    router.post("/hook") { request, _ -> Response in
      let buffer = try await request.body.collect(upTo: 1 << 20)
      let text = String(buffer: buffer)
      var headers: [String: String] = [:]
      for field in request.headers { headers[field.name.canonicalName] = field.value }
      let fail = state.withLock { state -> Bool in
        state.bodies.append(text)
        state.headers.append(headers)
        if state.remainingFailures > 0 {
          state.remainingFailures -= 1
          return true
        }
        state.accepted.append(text)
        return false
      }
      return Response(status: fail ? .serviceUnavailable : .ok)
    }
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    var logger = Logger(label: "test.receiver")
    logger.logLevel = .warning
    let app = Application(
      router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
      onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
    let group = ServiceGroup(services: [app], logger: logger)
    return try await withThrowingTaskGroup(of: Result?.self) { tasks in
      tasks.addTask {
        try await group.run()
        return nil
      }
      var iterator = ports.makeAsyncIterator()
      guard let port = await iterator.next() else { throw CancellationError() }
      let receiver = TestReceiver(url: "http://127.0.0.1:\(port)/hook", state: state)
      let result: Swift.Result<Result, any Error>
      do { result = .success(try await body(receiver)) } catch { result = .failure(error) }
      await group.triggerGracefulShutdown()
      for try await _ in tasks {}
      return try result.get()
    }
  }
}
