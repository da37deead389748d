import Foundation
import Prometheus

/// SLO status as Prometheus gauges for Grafana, refreshed at every evaluation:
/// - `maestro_slo_sli_ratio{tenant,slo}`, `maestro_slo_objective_ratio{tenant,slo}`
/// - `maestro_slo_error_budget_remaining_ratio{tenant,slo}` (negative once exceeded)
/// - `maestro_slo_burn_rate{tenant,slo,window}`
/// - `maestro_slo_events{tenant,slo,kind="total|good"}` over the SLO window
struct SLOStatusMetrics: Sendable {
  let registry: PrometheusCollectorRegistry

  init(registry: PrometheusCollectorRegistry) { self.registry = registry }

  func update(tenant: String, slo: SLODefinition, status: SLOStatusSnapshot) {
    let labels = [("tenant", tenant), ("slo", slo.name)]
    self.registry.makeGauge(descriptor: .named("maestro_slo_sli_ratio", "SLI (good/total) over the SLO window."), labels: labels).set(status.budget.sli)
    self.registry.makeGauge(descriptor: .named("maestro_slo_objective_ratio", "SLO objective as a ratio."), labels: labels).set(slo.objective)
    self.registry.makeGauge(descriptor: .named("maestro_slo_error_budget_remaining_ratio", "Fraction of the error budget left (negative once exceeded)."), labels: labels)
      .set(status.budget.remaining)
    self.registry.makeGauge(descriptor: .named("maestro_slo_events", "Events counted by the SLI over the SLO window."), labels: labels + [("kind", "total")]).set(Double(status.budget.total))
    self.registry.makeGauge(descriptor: .named("maestro_slo_events", "Events counted by the SLI over the SLO window."), labels: labels + [("kind", "good")]).set(Double(status.budget.good))
    for (window, rate) in status.burnRates {
      self.registry.makeGauge(descriptor: .named("maestro_slo_burn_rate", "Error-budget burn rate over the window."), labels: labels + [("window", PrometheusRules.promDuration(window))])
        .set(rate)
    }
  }
}

/// Counters of the outbox dispatcher: `maestro_notifications_total{kind,result}`.
struct DispatcherMetrics: Sendable {
  let registry: PrometheusCollectorRegistry

  init(registry: PrometheusCollectorRegistry) { self.registry = registry }

  func delivered(kind: String) {
    self.registry.makeCounter(descriptor: .named("maestro_notifications_total", "Notification delivery attempts."), labels: [("kind", kind), ("result", "delivered")]).increment()
  }

  func failed(kind: String) {
    self.registry.makeCounter(descriptor: .named("maestro_notifications_total", "Notification delivery attempts."), labels: [("kind", kind), ("result", "failed")]).increment()
  }
}

/// The outcome series as Prometheus metrics (the source of the exported recording rules):
/// `maestro_outcomes_total{tenant,kind,workflow,route,step_id,result}`,
/// `maestro_outcome_sla_total{…,result}`, and the histogram `maestro_outcome_duration_seconds`
/// with the schema's bucket bounds.
struct OutcomeMetrics: Sendable {
  let registry: PrometheusCollectorRegistry
  static let buckets = LatencyHistogram.upperBoundsMilliseconds.map { $0 / 1000 }

  init(registry: PrometheusCollectorRegistry) { self.registry = registry }

  func record(_ perSeries: [SeriesKey: OutcomeCounts]) {
    for (key, counts) in perSeries {
      let labels = [
        ("tenant", key.tenant), ("kind", key.kind.rawValue), ("workflow", key.kind == .request ? "" : key.workflowOrRoute),
        ("route", key.kind == .request ? key.workflowOrRoute : ""), ("step_id", key.stepID),
      ]
      for (result, value) in [("success", counts.success), ("failed", counts.failed), ("cancelled", counts.cancelled)] where value > 0 {
        self.registry.makeCounter(descriptor: .named("maestro_outcomes_total", "Outcome events recorded."), labels: labels + [("result", result)]).increment(by: value)
      }
      for (result, value) in [("met", counts.slaMet), ("missed", counts.slaMissed)] where value > 0 {
        self.registry.makeCounter(descriptor: .named("maestro_outcome_sla_total", "Outcome events with an SLA verdict."), labels: labels + [("result", result)]).increment(by: value)
      }
      let histogram = self.registry.makeValueHistogram(descriptor: .named("maestro_outcome_duration_seconds", "Outcome durations."), labels: labels, buckets: Self.buckets)
      let mean = counts.total > 0 ? Double(counts.sumDurationMilliseconds) / Double(counts.total) / 1000 : 0
      for (index, count) in counts.latency.counts.enumerated() where count > 0 {
        // One observation per event at its bucket's upper bound: bucket counts are exact, the
        // sum is an upper estimate. Events past the last bound are observed at the mean.
        let value = index < Self.buckets.count ? Self.buckets[index] : max(mean, Self.buckets.last!.nextUp)
        for _ in 0..<count { histogram.record(value) }
      }
    }
  }
}

extension MetricNameDescriptor {
  /// A descriptor for a full metric name (the unit is part of `name`).
  static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
  }
}
