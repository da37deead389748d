import Foundation
public import Logging
public import MaestroKit
import MaestroWorkflowModel
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Synchronization

/// `make bench-workflow`: completed 1-step workflows per second through the real engine on a
/// real Postgres, with start→complete latency percentiles.
public enum WorkflowBenchmark {
  public struct Report: Sendable, CustomStringConvertible {
    public var completed: Int
    public var seconds: Double
    public var p50: Double
    public var p99: Double
    public var perSecond: Double { Double(self.completed) / self.seconds }
    public var description: String {
      String(format: "workflows completed: %d in %.1f s = %.0f/s; start→complete p50 %.1f ms, p99 %.1f ms", self.completed, self.seconds, self.perSecond, self.p50 * 1000, self.p99 * 1000)
    }
  }

  /// Starts 1-step workflows from `starters` concurrent clients for `duration` against the
  /// database (already migrated) and measures completions.
  public static func run(
    database: DatabaseConfiguration,
    duration: Duration,
    starters: Int,
    executors: Int,
    batchSize: Int = 64,
    logger: Logger
  ) async throws -> Report {
    var apiConfig = database
    apiConfig.maxConnections = starters
    let api = Database(configuration: apiConfig, logger: logger)
    var engineConfig = database
    engineConfig.sessionSettings = [("maestro.tenant", "*")]
    engineConfig.maxConnections = executors * 8 + 4
    let engineDB = Database(configuration: engineConfig, logger: logger)
    var configuration = EngineConfiguration(identity: "bench")
    configuration.executors = executors
    configuration.batchSize = batchSize
    let engine = WorkflowEngine(
      api: api, engine: engineDB, definitions: DefinitionStore(logger: logger), configuration: configuration,
      metrics: WorkflowMetrics(registry: PrometheusCollectorRegistry()), logger: logger
    )
    let group = ServiceGroup(services: [api.client, engineDB.client, EngineRunner(engine: engine)], logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask { try await group.run() }
      let definition = try DefinitionLoader.definition(yaml: "{name: bench-one-step, steps: [{id: only, type: echo, input: {ok: true}}]}")
      _ = try await engine.inTenant("bench") { connection in
        try await engine.definitions.register(definition, tenant: "bench", createdBy: "bench", on: connection)
      }
      let started = ContinuousClock.now
      let stop = started + duration
      try await withThrowingTaskGroup(of: Void.self) { starterTasks in
        for _ in 0..<starters {
          starterTasks.addTask {
            while ContinuousClock.now < stop {
              _ = try await engine.startRun(tenant: "bench", .init(workflowName: "bench-one-step", workflowVersion: 0, input: [:], idempotencyKey: nil, labels: [:], startedBy: "bench"))
            }
          }
        }
        try await starterTasks.waitForAll()
      }
      // Let the engine drain what was started, then measure.
      let drainDeadline = ContinuousClock.now + .seconds(60)
      while ContinuousClock.now < drainDeadline {
        let pending = try await engineDB.client.query("SELECT count(*)::int FROM runs WHERE status = 'RUNNING'", logger: logger)
        var count = 0
        for try await value in pending.decode(Int.self) { count = value }
        if count == 0 { break }
        try await Task.sleep(for: .milliseconds(50))
      }
      let elapsed = ContinuousClock.now - started
      let rows = try await engineDB.client.query(
        """
        SELECT count(*)::int,
               coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)), 0)::float8,
               coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)), 0)::float8,
               coalesce(extract(epoch FROM max(finished_at) - min(created_at)), 0)::float8
        FROM runs WHERE status = 'COMPLETED'
        """,
        logger: logger
      )
      var report = Report(completed: 0, seconds: elapsed.seconds, p50: 0, p99: 0)
      for try await (count, p50, p99, span) in rows.decode((Int, Double, Double, Double).self) {
        report = Report(completed: count, seconds: max(span, 0.001), p50: p50, p99: p99)
      }
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
      return report
    }
  }
}
