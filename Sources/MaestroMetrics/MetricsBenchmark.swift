import Foundation
import GRPCCore
public import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import PostgresNIO
import Prometheus
import SwiftProtobuf

/// `make bench-metrics`: ingest rate through the RecordEvents handler (protobuf decode,
/// validation, aggregation, the Postgres upserts and the exported Prometheus series; not the
/// HTTP/2 transport) and SLO status
/// latency over 30 days of 1-minute data for 100 series (rolled up into hours and days, as in
/// production).
public enum MetricsBenchmark {
  public struct Options: Sendable {
    public var databaseURL: String
    public var seconds: Double = 10
    public var batchSize = 10_000
    public var concurrency = 4
    public var series = 100
    public var days = 30
    public var statusQueries = 200

    public init(databaseURL: String) { self.databaseURL = databaseURL }
  }

  public static func run(_ options: Options, logger: Logger) async throws {
    var configuration = try DatabaseConfiguration(url: options.databaseURL, schema: "metrics")
    configuration.maxConnections = options.concurrency + 4
    let database = Database(configuration: configuration, logger: logger)
    // Minutes are kept for the whole range, so the generated 30 days stay readable (reads use
    // days and hours where the rollups completed them, as in production).
    // The exported outcome counters and histograms are updated as in production.
    let engine = MetricsEngine(
      database: database, minuteRetention: .seconds(Int64(options.days + 1) * 86_400), hourRetention: .seconds(400 * 86_400),
      outcomeMetrics: OutcomeMetrics(registry: PrometheusCollectorRegistry()), logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await database.client.run() }
      defer { group.cancelAll() }
      try await self.ingest(engine, options)
      try await self.status(engine, options)
    }
  }

  static func principal(_ tenant: String) -> Principal {
    Principal(subject: "bench", tenant: tenant, roles: [.platformOperator], kind: .serviceAccount)
  }

  static func ingest(_ engine: MetricsEngine, _ options: Options) async throws {
    let service = MetricsGRPCService(engine: engine)
    let now = Date()
    // One serialized batch per worker: 10,000 events over the 100 series, durations spread
    // over the histogram, 1 % failures.
    var batches: [[UInt8]] = []
    for worker in 0..<options.concurrency {
      let request = Maestro_Metrics_V1_RecordEventsRequest.with {
        $0.events = (0..<options.batchSize).map { index in
          .with {
            $0.kind = .run
            $0.tenant = "bench-ingest"
            $0.workflow = "w\((index + worker) % options.series)"
            $0.status = index % 100 == 0 ? .failed : .succeeded
            $0.duration = .init(seconds: Int64(index % 40), nanos: Int32(index % 1000) * 1_000_000)
            $0.slaMet = index % 50 != 0
            $0.occurredAt = .init(date: now.addingTimeInterval(-Double(index % 120)))
          }
        }
      }
      batches.append(try request.serializedBytes())
    }
    let start = ContinuousClock.now
    let deadline = start + .milliseconds(Int64(options.seconds * 1000))
    let counts = try await withThrowingTaskGroup(of: Int.self) { group in
      for worker in 0..<options.concurrency {
        let bytes = batches[worker]
        group.addTask {
          var events = 0
          var sequence = 0
          while ContinuousClock.now < deadline {
            var request = try Maestro_Metrics_V1_RecordEventsRequest(serializedBytes: bytes)
            request.batchID = "bench-\(worker)-\(sequence)"
            sequence += 1
            let response = try await RequestContext.$current.withValue(RequestContext(requestID: "bench", principal: self.principal("bench-ingest"))) {
              try await service.recordEvents(request: request, context: ServerContext.bench)
            }
            events += Int(response.accepted)
          }
          return events
        }
      }
      return try await group.reduce(0, +)
    }
    let elapsed = (ContinuousClock.now - start).seconds
    let rate = Double(counts) / elapsed
    print(String(format: "ingest: %d events in %.1f s = %.0f events/s (batches of %d, %d concurrent, %d series)", counts, elapsed, rate, options.batchSize, options.concurrency, options.series))
    print("INGEST_EVENTS_PER_SECOND=\(Int(rate))")
  }

  static func status(_ engine: MetricsEngine, _ options: Options) async throws {
    let tenant = "bench-status"
    let now = Date()
    let fill = ContinuousClock.now
    _ = try await engine.database.client.query(
      """
      INSERT INTO series (tenant, kind, workflow_or_route)
      SELECT \(tenant), 'run', 'w' || i FROM generate_series(0, \(options.series - 1)) AS i ON CONFLICT DO NOTHING
      """
    ).collect()
    let end = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 60).rounded(.down) * 60)
    // 30 days x 1440 minutes x 100 series, in daily slices: 60 runs a minute, ~0.2 % failures.
    for day in 0..<options.days {
      let sliceEnd = end.addingTimeInterval(-Double(day) * 86_400)
      _ = try await engine.database.client.query(
        """
        INSERT INTO series_minute (tenant, series_id, bucket_start, total, success, failed, sla_met, sla_missed, latency_buckets, sum_duration_ms)
        SELECT s.tenant, s.id, m, 60, 60 - (CASE WHEN (extract(epoch FROM m)::bigint / 60 + s.id) % 8 = 0 THEN 1 ELSE 0 END),
               CASE WHEN (extract(epoch FROM m)::bigint / 60 + s.id) % 8 = 0 THEN 1 ELSE 0 END, 59, 1,
               ARRAY[0,0,0,0,0,0,0,0,0,5,20,20,10,4,1,0,0,0,0,0,0]::bigint[], 240000
        FROM series s, generate_series(\(sliceEnd.addingTimeInterval(-86_400 + 60)), \(sliceEnd), interval '1 minute') AS m
        WHERE s.tenant = \(tenant)
        ON CONFLICT DO NOTHING
        """
      ).collect()
    }
    let rows = try await engine.database.client.query("SELECT count(*) FROM series_minute WHERE tenant = \(tenant)").collect()
    let count = try rows.first?.decode(Int64.self) ?? 0
    print(String(format: "status data: %d minute rows (%d series x %d days) generated in %.1f s", count, options.series, options.days, (ContinuousClock.now - fill).seconds))
    let rollupStart = ContinuousClock.now
    let rolled = try await engine.aggregates.rollup(now: now)
    print(String(format: "rollup: %d hours and %d days rolled up in %.1f s", rolled.hours, rolled.days, (ContinuousClock.now - rollupStart).seconds))
    guard rolled.days >= options.days - 1 else { throw MaestroError(.internal, "the rollup produced \(rolled.days) days of \(options.days)") }
    for table in ["series_minute", "series_hour", "series_day"] {
      _ = try await engine.database.client.query(PostgresQuery(unsafeSQL: "ANALYZE \(table)")).collect()
    }

    let all = SLODefinition(name: "bench-all-runs", filter: .init(kind: .run), good: .succeeded, objective: 0.999)
    let one = SLODefinition(name: "bench-one-workflow", filter: .init(kind: .run, workflow: "w7"), good: .latencyBelow(milliseconds: 30_000), objective: 0.99)
    _ = try await engine.slos.installAbsent([all, one], tenant: tenant, source: "api")
    let service = MetricsGRPCService(engine: engine)
    var ceiling: [Double] = []
    for _ in 0..<options.statusQueries {
      let t0 = ContinuousClock.now
      _ = try await engine.database.client.query("SELECT 1").collect()
      ceiling.append((ContinuousClock.now - t0).seconds * 1000)
    }
    let ceilingP50 = self.percentile(ceiling, 0.5)
    print(String(format: "ceiling: SELECT 1 round trip p50 %.3f ms", ceilingP50))

    /// p50 and p99 of `statusQueries` GetSLOStatus calls of `slo`, and the events it counted.
    func measure(_ slo: SLODefinition) async throws -> (p50: Double, p99: Double, status: Maestro_Metrics_V1_SLOStatus) {
      var latencies: [Double] = []
      var last = Maestro_Metrics_V1_SLOStatus()
      for _ in 0..<options.statusQueries {
        let t0 = ContinuousClock.now
        last = try await RequestContext.$current.withValue(RequestContext(requestID: "bench", principal: self.principal(tenant))) {
          try await service.getSLOStatus(request: .with { $0.sloName = slo.name }, context: ServerContext.bench).status
        }
        latencies.append((ContinuousClock.now - t0).seconds * 1000)
      }
      return (self.percentile(latencies, 0.5), self.percentile(latencies, 0.99), last)
    }

    // 1. Every window summed from the series (no filter aggregate yet).
    var fromSeries: [String: (p50: Double, p99: Double, status: Maestro_Metrics_V1_SLOStatus)] = [:]
    for slo in [all, one] {
      let result = try await measure(slo)
      fromSeries[slo.name] = result
      print(String(format: "status %@ from the series (%d series, %d events over 30 d, %d burn windows): p50 %.2f ms, p99 %.2f ms; %.1fx the ceiling",
        slo.name, slo.filter.workflow.isEmpty ? options.series : 1, result.status.totalEvents, result.status.burnRates.count, result.p50, result.p99, result.p50 / ceilingP50))
    }

    // 2. The rollup worker's filter materialisation, as it last ran a minute ago: the aggregates
    // are created and backfilled over 30 days, and cover up to 3 minutes before now (the status
    // reads the last 3-4 minutes from the series).
    let materialiseStart = ContinuousClock.now
    let needs = AggregateStore.filterNeeds([(tenant, all), (tenant, one)], now: Date())
    let materialised = try await engine.aggregates.materialiseFilters(now: Date().addingTimeInterval(-60), needs: needs)
    print(String(format: "filter aggregates: %d created, %d days backfilled in %.1f s", materialised.created, materialised.backfilledDays, (ContinuousClock.now - materialiseStart).seconds))
    for table in ["filter_minute", "filter_hour", "filter_day", "filter_aggregates"] {
      _ = try await engine.database.client.query(PostgresQuery(unsafeSQL: "ANALYZE \(table)")).collect()
    }
    for slo in [all, one] {
      // The same sums both ways, for the windows of the status at one instant.
      let at = Date()
      let ranges = ([slo.window] + slo.statusWindows).map { AggregateStore.TimeRange(start: at.addingTimeInterval(-$0.seconds), end: at.addingTimeInterval(0.001)) }
      let viaAggregate = try await engine.aggregates.counts(tenant: tenant, filter: slo.filter, ranges: ranges, now: at)
      let viaSeries = try await engine.aggregates.counts(tenant: tenant, filter: slo.filter, ranges: ranges, now: at, useAggregate: false)
      guard viaAggregate == viaSeries else { throw MaestroError(.internal, "\(slo.name): the aggregate read differs from the series read") }
      let result = try await measure(slo)
      let series = fromSeries[slo.name]!
      print(String(format: "status %@ with its filter aggregate (%d series, %d events over 30 d, %d burn windows): p50 %.2f ms, p99 %.2f ms; %.1fx the ceiling, %.2fx the series read",
        slo.name, slo.filter.workflow.isEmpty ? options.series : 1, result.status.totalEvents, result.status.burnRates.count, result.p50, result.p99, result.p50 / ceilingP50, result.p50 / series.p50))
      let key = slo.filter.workflow.isEmpty ? "ALL" : "ONE"
      print("STATUS_P50_MS_\(key)=\(result.p50)")
      print("STATUS_P99_MS_\(key)=\(result.p99)")
      print("STATUS_SERIES_P99_MS_\(key)=\(series.p99)")
    }
  }

  static func percentile(_ values: [Double], _ q: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q))]
  }
}

extension ServerContext {
  /// A context for calling handlers directly (the benchmark bypasses the transport).
  static var bench: ServerContext {
    ServerContext(descriptor: MethodDescriptor(fullyQualifiedService: "maestro.metrics.v1.MetricsService", method: "Bench"), remotePeer: "in-process:bench", localPeer: "in-process:bench", cancellation: .init())
  }
}
