import Foundation

/// An SLO's status at one instant: the budget over its window and the burn rate per window.
struct SLOStatusSnapshot: Sendable {
  var evaluatedAt: Date
  var budget: SLOStatusCalculator.Budget
  /// Shortest window first.
  var burnRates: [(window: Duration, rate: Double)]
  var timeToExhaustion: Double?

  func burnRate(_ window: Duration) -> Double {
    self.burnRates.first { $0.window == window }?.rate ?? 0
  }
}

/// Computes SLO status from the aggregates: one statement per SLO for all of its windows.
struct SLOStatusEngine: Sendable {
  let store: AggregateStore

  func status(of slo: SLODefinition, tenant: String, now: Date) async throws -> SLOStatusSnapshot {
    let windows = slo.statusWindows
    let ranges = [AggregateStore.TimeRange(start: now.addingTimeInterval(-slo.window.seconds), end: now.addingTimeInterval(0.001))]
      + windows.map { AggregateStore.TimeRange(start: now.addingTimeInterval(-$0.seconds), end: now.addingTimeInterval(0.001)) }
    var latency = AggregateStore.LatencyNeed.none
    if case .latencyBelow(let milliseconds) = slo.good {
      latency = .below(buckets: LatencyHistogram.bucketsAtOrBelow(thresholdMilliseconds: milliseconds) ?? 0)
    }
    let counts = try await self.store.counts(tenant: tenant, filter: slo.filter, ranges: ranges, now: now, latency: latency)
    return Self.snapshot(slo: slo, windows: windows, counts: counts, now: now)
  }

  /// Pure: `counts[0]` is the SLO window, then one per `windows`.
  static func snapshot(slo: SLODefinition, windows: [Duration], counts: [OutcomeCounts], now: Date) -> SLOStatusSnapshot {
    let overall = slo.goodAndTotal(counts[0])
    let budget = SLOStatusCalculator.budget(good: overall.good, total: overall.total, objective: slo.objective)
    var rates: [(Duration, Double)] = []
    for (index, window) in windows.enumerated() {
      let (good, total) = slo.goodAndTotal(counts[index + 1])
      rates.append((window, SLOStatusCalculator.burnRate(good: good, total: total, objective: slo.objective)))
    }
    let shortest = rates.first
    let tte = shortest.flatMap { SLOStatusCalculator.timeToExhaustion(remaining: budget.remaining, burnRate: $0.1, window: slo.window) }
    return SLOStatusSnapshot(evaluatedAt: now, budget: budget, burnRates: rates.map { (window: $0.0, rate: $0.1) }, timeToExhaustion: tte)
  }
}
