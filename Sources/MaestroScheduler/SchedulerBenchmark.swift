import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
public import MaestroKit
import MaestroProtos
import PostgresNIO

/// `make bench-scheduler`: drives a running scheduler process (and the workflow-service it
/// starts runs on) with 100,000 schedules and prints
/// - idle CPU of the scheduler process with every schedule active but none due soon, and the
///   table scans it made meanwhile (should be 0: it reads one index tuple per wakeup);
/// - fire lag p50/p99 (due time → StartRun confirmed) while the schedules fire on their own,
///   spread evenly over a period (100,000 / 600 s ≈ 167 fires/s);
/// - the ceiling measured in the same run: StartRun calls/s against the same workflow-service
///   with the same concurrency (the bench schedules paused first, so that their fires do not
///   compete with it), and the scheduler's fire rate as a share of it.
public enum SchedulerBenchmark {
  public struct Options: Sendable {
    public var databaseURL: String
    public var schedulerPID: Int32
    public var workflowTarget: HostPort
    public var authTarget: HostPort
    public var clientSecretFile: String
    public var schedules = 100_000
    public var period = 600
    public var idleSeconds = 20.0
    public var fireSeconds = 60.0
    public var ceilingSeconds = 10.0
    public var workflow = "bench-noop"

    public init(databaseURL: String, schedulerPID: Int32, workflowTarget: HostPort, authTarget: HostPort, clientSecretFile: String) {
      self.databaseURL = databaseURL
      self.schedulerPID = schedulerPID
      self.workflowTarget = workflowTarget
      self.authTarget = authTarget
      self.clientSecretFile = clientSecretFile
    }
  }

  public static func run(_ options: Options, logger: Logger) async throws {
    let configuration = try DatabaseConfiguration(url: options.databaseURL, schema: "scheduler")
    let client = configuration.makeClient(logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await client.run() }
      defer { group.cancelAll() }
      try await self.measure(options, client: client, logger: logger)
    }
  }

  static func measure(_ options: Options, client: PostgresClient, logger: Logger) async throws {
    // 1. 100k active schedules, none due before next New Year.
    let started = ContinuousClock.now
    let batch = 5_000
    let yearly = #"{"cronExpressions":["0 0 1 1 *"],"timeZone":"UTC"}"#
    let target = #"{"workflowName":"\#(options.workflow)"}"#
    var inserted = 0
    while inserted < options.schedules {
      let count = min(batch, options.schedules - inserted)
      _ = try await client.query(
        """
        INSERT INTO schedules (tenant, name, spec, time_zone, target, overlap_policy, catchup_window, next_fire_at, next_nominal_at, created_by)
        SELECT 'default', 'bench-' || i, \(yearly)::jsonb, 'UTC', \(target)::jsonb, 'skip', interval '1 minute',
               date_trunc('year', now()) + interval '1 year', date_trunc('year', now()) + interval '1 year', 'bench'
        FROM generate_series(\(inserted), \(inserted + count - 1)) AS i
        """,
        logger: logger
      ).collect()
      inserted += count
    }
    _ = try await client.query("ANALYZE schedules", logger: logger).collect()
    _ = try await client.query("SELECT pg_notify('scheduler_schedules_changed', '')", logger: logger).collect()
    print("setup: \(options.schedules) schedules inserted in \(self.seconds(since: started)) s; load average \(self.loadAverage())")

    // 2. Idle: CPU of the scheduler process and table scans on schedules.
    try await Task.sleep(for: .seconds(2))
    let scansBefore = try await self.sequentialScans(client, logger: logger)
    let idleCPU = try await self.cpu(pid: options.schedulerPID, seconds: options.idleSeconds)
    let scansAfter = try await self.sequentialScans(client, logger: logger)
    print(String(format: "idle: scheduler CPU %.2f%% of one core over %.0f s with %d active schedules; sequential scans of schedules: %d", idleCPU * 100, options.idleSeconds, options.schedules, scansAfter - scansBefore))

    // 3. Firing: every schedule every `period` seconds, offsets spread evenly.
    let period = options.period
    _ = try await client.query(
      """
      UPDATE schedules SET
        spec = jsonb_build_object('intervals', jsonb_build_array(jsonb_build_object('every', \(period)::text || 's', 'offset', (substr(name, 7)::int % \(period))::text || 's')), 'timeZone', 'UTC'),
        next_nominal_at = to_timestamp((substr(name, 7)::int % \(period)) + (floor((extract(epoch FROM now()) + 3 - (substr(name, 7)::int % \(period))) / \(period)) + 1) * \(period)),
        next_fire_at = to_timestamp((substr(name, 7)::int % \(period)) + (floor((extract(epoch FROM now()) + 3 - (substr(name, 7)::int % \(period))) / \(period)) + 1) * \(period))
      WHERE name LIKE 'bench-%'
      """,
      logger: logger
    ).collect()
    _ = try await client.query("SELECT pg_notify('scheduler_schedules_changed', '')", logger: logger).collect()
    let fireStart = Date().addingTimeInterval(5)
    let fireCPU = try await self.cpu(pid: options.schedulerPID, seconds: options.fireSeconds + 5)
    let fireEnd = Date().addingTimeInterval(-3)  // let the last second's starts land
    try await Task.sleep(for: .seconds(3))
    let rows = try await client.query(
      """
      SELECT count(*)::bigint,
             coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM lag)), 0)::float8,
             coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM lag)), 0)::float8,
             coalesce(max(extract(epoch FROM lag)), 0)::float8
      FROM schedule_fires WHERE fire_time >= \(fireStart) AND fire_time < \(fireEnd) AND started_at IS NOT NULL
      """,
      logger: logger
    ).collect()
    let (fires, p50, p99, maxLag) = try rows[0].decode((Int64, Double, Double, Double).self)
    let pendingRows = try await client.query(
      "SELECT count(*)::bigint FROM schedule_fires WHERE fire_time >= \(fireStart) AND fire_time < \(fireEnd) AND started_at IS NULL",
      logger: logger
    ).collect()
    let notStarted = try pendingRows[0].decode(Int64.self)
    let window = fireEnd.timeIntervalSince(fireStart)
    let expected = Double(options.schedules) * window / Double(period)
    let rate = Double(fires) / window
    print(String(format: "fire: %lld fires in %.0f s (%.1f/s, expected %.0f), not started: %lld", fires, window, rate, expected, notStarted))
    print(String(format: "fire lag (due -> run started): p50 %.1f ms, p99 %.1f ms, max %.1f ms; scheduler CPU while firing %.1f%% of one core", p50 * 1000, p99 * 1000, maxLag * 1000, fireCPU * 100))

    // 4. Ceiling: StartRun/s against the same workflow-service, 32 concurrent calls, with the
    // schedules paused first so that the scheduler's own fires do not compete with it.
    _ = try await client.query("UPDATE schedules SET paused = true, paused_at = now() WHERE name LIKE 'bench-%'", logger: logger).collect()
    try await Task.sleep(for: .seconds(3))
    let ceiling = try await self.startRunCeiling(options, logger: logger)
    print(String(format: "ceiling: workflow-service StartRun %.0f calls/s (32 concurrent, same service account, schedules paused)", ceiling))
    print(String(format: "ratio: scheduler fires %.1f/s = %.1f%% of the StartRun ceiling (the fire rate is the schedules' own: 100k / %d s)", rate, rate / ceiling * 100, period))
    print("load average at the end: \(self.loadAverage()) (2 cores, shared)")
    print(String(format: "goal: p99 lag < 1 s at %d schedules: %@; idle CPU near zero: %@", options.schedules, p99 < 1 ? "met" : "not met", idleCPU < 0.01 ? "met" : "not met"))
  }

  static func seconds(since start: ContinuousClock.Instant) -> String {
    let elapsed = ContinuousClock.now - start
    return String(format: "%.1f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
  }

  /// The 1, 5 and 15 minute load averages (the machine is shared: figures depend on it).
  static func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").prefix(3).joined(separator: " ")
  }

  static func sequentialScans(_ client: PostgresClient, logger: Logger) async throws -> Int64 {
    let rows = try await client.query("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'schedules'", logger: logger).collect()
    _ = try await client.query("SELECT pg_stat_clear_snapshot()", logger: logger).collect()
    return try rows.first?.decode(Int64.self) ?? 0
  }

  /// Share of one core the process used over `seconds` (from /proc/<pid>/stat).
  static func cpu(pid: Int32, seconds: Double) async throws -> Double {
    func ticks() throws -> Double {
      let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
      guard let close = text.lastIndex(of: ")") else { return 0 }
      let fields = text[text.index(after: close)...].split(separator: " ")
      // After the command: state(0) … utime(11) stime(12).
      return (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
    }
    let before = try ticks()
    let start = Date()
    try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
    let after = try ticks()
    return (after - before) / Double(sysconf(Int32(_SC_CLK_TCK))) / Date().timeIntervalSince(start)
  }

  static func startRunCeiling(_ options: Options, logger: Logger) async throws -> Double {
    let auth = GRPCClient(transport: try .http2NIOPosix(target: .dns(host: options.authTarget.host, port: options.authTarget.port), transportSecurity: .plaintext))
    let workflow = GRPCClient(transport: try .http2NIOPosix(target: .dns(host: options.workflowTarget.host, port: options.workflowTarget.port), transportSecurity: .plaintext))
    return try await withThrowingTaskGroup(of: Void.self, returning: Double.self) { group in
      group.addTask { try await auth.runConnections() }
      group.addTask { try await workflow.runConnections() }
      defer { group.cancelAll() }
      let tokens = ClientCredentialsTokenSource(client: auth, clientID: "scheduler", secretFile: options.clientSecretFile)
      let metadata: Metadata = ["authorization": "Bearer \(try await tokens.token())"]
      let workflows = Maestro_Workflow_V1_WorkflowService.Client(wrapping: workflow)
      let deadline = ContinuousClock.now + .milliseconds(Int64(options.ceilingSeconds * 1000))
      let started = Date()
      let total = try await withThrowingTaskGroup(of: Int.self, returning: Int.self) { callers in
        for caller in 0..<32 {
          callers.addTask {
            var count = 0
            while ContinuousClock.now < deadline {
              _ = try await workflows.startRun(.with {
                $0.workflowName = options.workflow
                $0.idempotencyKey = "bench-ceiling-\(caller)-\(count)-\(started.timeIntervalSince1970)"
              }, metadata: metadata)
              count += 1
            }
            return count
          }
        }
        return try await callers.reduce(0, +)
      }
      return Double(total) / Date().timeIntervalSince(started)
    }
  }
}
