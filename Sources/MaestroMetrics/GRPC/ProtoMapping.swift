import Foundation
import MaestroProtos
import SwiftProtobuf

extension SLOStore.Stored {
  var proto: Maestro_Metrics_V1_SLO {
    var slo = self.definition.proto
    slo.meta = .with {
      $0.tenant = self.tenant
      $0.createdAt = .init(date: self.createdAt)
      $0.updatedAt = .init(date: self.updatedAt)
    }
    return slo
  }
}

extension Maestro_Metrics_V1_SLOStatus {
  init(slo: SLODefinition, snapshot: SLOStatusSnapshot, firing: [String]) {
    self.init()
    self.sloName = slo.name
    self.evaluatedAt = .init(date: snapshot.evaluatedAt)
    self.totalEvents = snapshot.budget.total
    self.goodEvents = snapshot.budget.good
    self.sli = snapshot.budget.sli
    self.objective = slo.objective
    self.errorBudgetTotal = snapshot.budget.budgetTotal
    self.errorBudgetConsumed = snapshot.budget.consumed
    self.errorBudgetRemaining = snapshot.budget.remaining
    self.errorBudgetRemainingEvents = snapshot.budget.remainingEvents
    self.burnRates = snapshot.burnRates.map { entry in
      .with {
        $0.window = .init(seconds: Int64(entry.window.seconds))
        $0.burnRate = entry.rate
      }
    }
    if let seconds = snapshot.timeToExhaustion, seconds.isFinite, seconds < 1e12 {
      self.timeToExhaustion = .init(seconds: Int64(seconds), nanos: 0)
    }
    self.withinObjective = snapshot.budget.remaining > 0
    self.firingAlertIds = firing
  }
}

extension Maestro_Metrics_V1_WorkflowStats {
  init(workflow: String, start: Date, end: Date, counts: OutcomeCounts) {
    self.init()
    self.workflow = workflow
    self.timeRange = .with {
      $0.startTime = .init(date: start)
      $0.endTime = .init(date: end)
    }
    self.count = counts.total
    self.succeeded = counts.success
    self.failed = counts.failed - counts.timedOut
    self.timedOut = counts.timedOut
    self.cancelled = counts.cancelled
    self.successRate = counts.total > 0 ? Double(counts.success) / Double(counts.total) : 0
    let withSLA = counts.slaMet + counts.slaMissed
    self.slaMetRate = withSLA > 0 ? Double(counts.slaMet) / Double(withSLA) : 0
    for (quantile, keyPath) in [(0.5, \Self.p50), (0.95, \Self.p95), (0.99, \Self.p99)] as [(Double, WritableKeyPath<Self, Google_Protobuf_Duration>)] {
      if let milliseconds = counts.latency.quantile(quantile) { self[keyPath: keyPath] = .init(milliseconds: milliseconds) }
    }
  }
}
