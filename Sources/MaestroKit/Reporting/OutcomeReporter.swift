import Foundation
public import Logging
public import MaestroProtos
public import Prometheus
public import ServiceLifecycle
import Synchronization

/// Where an ``OutcomeReporter`` delivers its batches: metrics-service's `RecordEvents` in
/// production (``MetricsServiceSink``).
public protocol OutcomeSink: Sendable {
  /// Sends one batch and returns how many events the receiver rejected as invalid. Throwing
  /// means "not recorded": the reporter may retry with the same id.
  func send(batchID: String, events: [Maestro_Metrics_V1_OutcomeEvent]) async throws -> Int
  /// Runs the sink's connections until cancelled (no-op by default).
  func run() async throws
}

extension OutcomeSink {
  public func run() async throws {}
}

/// Asynchronous, batched, bounded delivery of outcome events to metrics-service.
///
/// ``report(_:)`` never waits: it appends to a bounded in-memory queue and returns. A background
/// loop (``run()``, a `Service`) sends batches of up to `batchSize` events every `flushInterval`
/// or as soon as a batch is full, retrying a failed batch (same batch id, so metrics-service
/// counts it once) with backoff. A slow or down metrics-service therefore never slows the
/// caller: when the queue is full, new events are dropped and counted, never hidden:
///
/// - `maestro_outcome_reporter_events_total{result="sent"|"dropped_queue_full"|"dropped_send_failed"|"rejected"}`
/// - `maestro_outcome_reporter_queue_depth`
///
/// On graceful shutdown it makes one last attempt to flush what is queued, bounded by `sendTimeout`.
public final class OutcomeReporter: Service, Sendable {
  public struct Configuration: Sendable {
    /// Events held at most; beyond it new events are dropped. Default 10,000.
    public var queueCapacity = 10_000
    /// Events per RecordEvents call. Default 500 (metrics-service takes up to 10,000).
    public var batchSize = 500
    /// Longest time an event waits before its batch is sent. Default 1 s.
    public var flushInterval: Duration = .seconds(1)
    /// Deadline of one send. Default 5 s.
    public var sendTimeout: Duration = .seconds(5)
    /// Attempts per batch before it is dropped (and counted). Default 3.
    public var maxAttempts = 3
    /// First retry delay; doubles per attempt. Default 500 ms.
    public var retryBackoff: Duration = .milliseconds(500)

    public init() {}
  }

  private struct State {
    var queue: [Maestro_Metrics_V1_OutcomeEvent] = []
    var draining = false
  }

  private let state = Mutex(State())
  private let sink: any OutcomeSink
  private let configuration: Configuration
  private let logger: Logger
  private let wakeStream: AsyncStream<Void>
  private let wake: AsyncStream<Void>.Continuation
  private let sent: Counter
  private let droppedQueueFull: Counter
  private let droppedSendFailed: Counter
  private let rejected: Counter
  private let depth: Gauge

  public init(sink: any OutcomeSink, configuration: Configuration = Configuration(), registry: PrometheusCollectorRegistry, logger: Logger) {
    self.sink = sink
    self.configuration = configuration
    self.logger = logger
    (self.wakeStream, self.wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    func counter(_ result: String) -> Counter {
      registry.makeCounter(
        descriptor: MetricNameDescriptor(namespace: "maestro", subsystem: "outcome_reporter", metricName: "events", unitName: "total", helpText: "Outcome events handed to the reporter, by fate."),
        labels: [("result", result)])
    }
    self.sent = counter("sent")
    self.droppedQueueFull = counter("dropped_queue_full")
    self.droppedSendFailed = counter("dropped_send_failed")
    self.rejected = counter("rejected")
    self.depth = registry.makeGauge(
      descriptor: MetricNameDescriptor(namespace: "maestro", subsystem: "outcome_reporter", metricName: "queue", unitName: "depth", helpText: "Outcome events waiting to be sent."))
  }

  /// Queues `event` for delivery; returns at once. Drops (and counts) it when the queue is full.
  public func report(_ event: Maestro_Metrics_V1_OutcomeEvent) {
    let (accepted, full, depth) = self.state.withLock { state -> (Bool, Bool, Int) in
      guard state.queue.count < self.configuration.queueCapacity else { return (false, false, state.queue.count) }
      state.queue.append(event)
      return (true, state.queue.count >= self.configuration.batchSize, state.queue.count)
    }
    guard accepted else {
      self.droppedQueueFull.increment()
      return
    }
    self.depth.set(Double(depth))
    if full { self.wake.yield() }
  }

  /// Events waiting to be sent.
  public var queued: Int { self.state.withLock { $0.queue.count } }

  public func run() async throws {
    await withTaskGroup(of: Void.self) { group in
      group.addTask {
        do {
          try await self.sink.run()
        } catch {
          self.logger.error("outcome sink stopped", metadata: ["error": "\(error)"])
        }
      }
      group.addTask {
        // The flush timer: wakes the sender at least every flushInterval.
        while !Task.isCancelled {
          try? await Task.sleep(for: self.configuration.flushInterval)
          self.wake.yield()
        }
      }
      await withGracefulShutdownHandler {
        for await _ in self.wakeStream {
          await self.flush(final: false)
        }
      } onGracefulShutdown: {
        self.wake.finish()
      }
      await self.flush(final: true)
      group.cancelAll()
    }
  }

  /// Sends queued events in batches until the queue is empty (or a batch fails for good).
  func flush(final: Bool) async {
    while true {
      let batch = self.state.withLock { state -> [Maestro_Metrics_V1_OutcomeEvent] in
        let count = min(state.queue.count, self.configuration.batchSize)
        let batch = Array(state.queue.prefix(count))
        state.queue.removeFirst(count)
        return batch
      }
      self.depth.set(Double(self.queued))
      guard !batch.isEmpty else { return }
      let delivered = await self.send(batch, attempts: final ? 1 : self.configuration.maxAttempts)
      if !delivered {
        self.droppedSendFailed.increment(by: Int64(batch.count))
        return
      }
      self.sent.increment(by: Int64(batch.count))
    }
  }

  private func send(_ batch: [Maestro_Metrics_V1_OutcomeEvent], attempts: Int) async -> Bool {
    let batchID = UUID().uuidString.lowercased()
    var delay = self.configuration.retryBackoff
    for attempt in 1...max(1, attempts) {
      do {
        let rejected = try await withDeadline(self.configuration.sendTimeout, operation: "RecordEvents") {
          try await self.sink.send(batchID: batchID, events: batch)
        }
        if rejected > 0 { self.rejected.increment(by: Int64(rejected)) }
        return true
      } catch {
        self.logger.warning(
          "outcome batch not delivered", metadata: ["attempt": "\(attempt)", "events": "\(batch.count)", "error": "\(error)"])
        guard attempt < attempts, !Task.isCancelled else { break }
        try? await Task.sleep(for: delay)
        delay *= 2
      }
    }
    return false
  }
}
