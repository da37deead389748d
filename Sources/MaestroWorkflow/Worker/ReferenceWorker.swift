import Foundation
public import GRPCCore
public import GRPCNIOTransportHTTP2
public import Logging
public import MaestroKit
import MaestroProtos
import MaestroWorkflowModel
import SwiftProtobuf

/// The reference worker: serves a few demo task queues through the public worker API (the
/// gateway's gRPC port, with a service-account token), so users see both sides of a `task`
/// step. `workflow-service worker` runs it; `examples/python-worker/worker.py` is the same in
/// Python with grpcio.
///
/// Queues:
///   demo.uppercase          {"text"} → {"text": upper-cased}
///   demo.word-count         {"text"} → {"words": n, "characters": n}
///   demo.extract-entities   {"text", "types"?, "min_confidence"?} → {"entities": [{"text", "type", "confidence"}]}
public struct ReferenceWorker: Sendable {
  public static let queues = ["demo.uppercase", "demo.word-count", "demo.extract-entities"]

  let client: GRPCClient<HTTP2ClientTransport.Posix>
  let tokens: any AccessTokenSource
  let queues: [String]
  let concurrency: Int
  let identity: String
  let logger: Logger

  public init(client: GRPCClient<HTTP2ClientTransport.Posix>, tokens: any AccessTokenSource, queues: [String], concurrency: Int, identity: String, logger: Logger) {
    self.client = client
    self.tokens = tokens
    self.queues = queues
    self.concurrency = concurrency
    self.identity = identity
    self.logger = logger
  }

  /// Polls and works until cancelled; each of `concurrency` loops holds at most one task.
  public func run() async throws {
    try await withThrowingDiscardingTaskGroup { group in
      for index in 0..<self.concurrency {
        group.addTask { await self.loop(index) }
      }
    }
  }

  private func loop(_ index: Int) async {
    let workers = Maestro_Workflow_V1_WorkerService.Client(wrapping: self.client)
    var backoff: Duration = .milliseconds(200)
    while !Task.isCancelled {
      do {
        let metadata: Metadata = ["authorization": "Bearer \(try await self.tokens.token())"]
        let response = try await workers.pollTask(
          .with {
            $0.taskQueues = self.queues
            $0.workerIdentity = "\(self.identity)#\(index)"
            $0.waitTimeout = Google_Protobuf_Duration(seconds: 30)
          },
          metadata: metadata,
          options: { var options = CallOptions.defaults; options.timeout = .seconds(40); return options }()
        )
        backoff = .milliseconds(200)
        guard response.hasTask else { continue }
        let task = response.task
        do {
          let output = try Self.handle(queue: task.taskQueue, input: JSONValue(task.input))
          _ = try await workers.completeTask(.with {
            $0.taskToken = task.taskToken
            $0.output = output.protobufStruct
          }, metadata: metadata)
          self.logger.info("task completed", metadata: ["queue": "\(task.taskQueue)", "run_id": "\(task.runID)", "step": "\(task.stepID)"])
        } catch let failure as TaskFailure {
          _ = try await workers.failTask(.with {
            $0.taskToken = task.taskToken
            $0.errorMessage = failure.message
            $0.errorClass = .user
            $0.nonRetryable = true
          }, metadata: metadata)
          self.logger.info("task failed", metadata: ["queue": "\(task.taskQueue)", "run_id": "\(task.runID)", "error": "\(failure.message)"])
        }
      } catch is CancellationError {
        return
      } catch {
        self.logger.warning("worker call failed; retrying", metadata: ["error": "\(error)", "backoff": "\(backoff)"])
        try? await Task.sleep(for: backoff)
        backoff = min(backoff * 2, .seconds(10))
      }
    }
  }

  struct TaskFailure: Error {
    var message: String
  }

  /// The demo queues' work (pure).
  static func handle(queue: String, input: JSONValue) throws(TaskFailure) -> JSONValue {
    let text: String = if case .string(let value) = input["text"] ?? .null { value } else { "" }
    switch queue {
    case "demo.uppercase":
      return ["text": .string(text.uppercased())]
    case "demo.word-count":
      return ["words": .number(Double(text.split(whereSeparator: \.isWhitespace).count)), "characters": .number(Double(text.count))]
    case "demo.extract-entities":
      var wanted: Set<String>?
      if case .array(let types) = input["types"] ?? .null {
        wanted = Set(types.compactMap { if case .string(let type) = $0 { type.lowercased() } else { nil } })
      }
      var threshold = 0.0
      if case .number(let value) = input["min_confidence"] ?? .null { threshold = value }
      return ["entities": .array(Self.entities(in: text).filter { entity in
        (wanted?.contains(entity.type) ?? true) && entity.confidence >= threshold
      }.map { ["text": .string($0.text), "type": .string($0.type), "confidence": .number($0.confidence)] })]
    default:
      throw TaskFailure(message: "this worker does not serve queue '\(queue)'")
    }
  }

  /// Capitalised words and runs of them within a clause ("Ada Lovelace") as entities; a run of two or more is
  /// a person (0.8), a single word an organisation when all caps (0.7), else a location (0.5).
  /// A demo heuristic, deterministic so examples and tests can rely on it.
  static func entities(in text: String) -> [(text: String, type: String, confidence: Double)] {
    var result: [(String, String, Double)] = []
    var run: [String] = []
    func flush() {
      defer { run = [] }
      guard !run.isEmpty else { return }
      let name = run.joined(separator: " ")
      if result.contains(where: { $0.0 == name }) { return }
      if run.count >= 2 {
        result.append((name, "person", 0.8))
      } else if name.count > 1, name == name.uppercased() {
        result.append((name, "organization", 0.7))
      } else {
        result.append((name, "location", 0.5))
      }
    }
    // Punctuation ends a run: "in London. Grace Hopper" is two entities, not one.
    for clause in text.split(whereSeparator: { ".,;:!?()[]{}\"|\n".contains($0) }) {
      for word in clause.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "-" }) {
        if let first = word.first, first.isUppercase { run.append(String(word)) } else { flush() }
      }
      flush()
    }
    return result
  }
}
