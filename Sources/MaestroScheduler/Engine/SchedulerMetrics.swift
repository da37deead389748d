import Prometheus

/// The scheduler's Prometheus series:
/// - `maestro_scheduler_fires_total{trigger,result}`: fires acted on (result started, skipped,
///   buffered, start_failed);
/// - `maestro_scheduler_missed_fires_total`: fires older than the catch-up window, not started;
/// - `maestro_scheduler_fire_lag_seconds{trigger}`: due time (nominal + jitter) → StartRun
///   confirmed;
/// - `maestro_scheduler_run_failures_total{status}`: fires that ended failed, timed_out or
///   start_failed (what pause-on-failure counts);
/// - `maestro_scheduler_paused_by_failures_total`.
struct SchedulerMetrics: Sendable {
  let registry: PrometheusCollectorRegistry

  static let lagBuckets: [Duration] = [
    .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
    .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
  ]

  static func name(_ metric: String, unit: String = "total", help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(namespace: "maestro", subsystem: "scheduler", metricName: metric, unitName: unit, helpText: help)
  }

  func fired(trigger: String, result: String, count: Int = 1) {
    guard count > 0 else { return }
    self.registry.makeCounter(descriptor: Self.name("fires", help: "Fires acted on, by trigger and result."), labels: [("trigger", trigger), ("result", result)]).increment(by: Int64(count))
  }

  func missed(_ count: Int) {
    guard count > 0 else { return }
    self.registry.makeCounter(descriptor: Self.name("missed_fires", help: "Fires older than the catch-up window, recorded and not started.")).increment(by: Int64(count))
  }

  func lag(_ seconds: Double, trigger: String) {
    self.registry.makeDurationHistogram(
      descriptor: Self.name("fire_lag", unit: "seconds", help: "From a fire's due time (nominal + jitter) to its run's confirmed start."),
      labels: [("trigger", trigger)], buckets: Self.lagBuckets
    ).record(.milliseconds(Int64(max(0, seconds) * 1000)))
  }

  func failure(status: String) {
    self.registry.makeCounter(descriptor: Self.name("run_failures", help: "Fires whose run failed, timed out or could not start."), labels: [("status", status)]).increment()
  }

  func pausedByFailures() {
    self.registry.makeCounter(descriptor: Self.name("paused_by_failures", help: "Schedules paused by pause_after_failures.")).increment()
  }
}
