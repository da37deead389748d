import Foundation
import Logging
import MaestroKit

/// metrics-service's stores and engines, shared by the gRPC handlers and the background work.
struct MetricsEngine: Sendable {
  let database: Database
  let aggregates: AggregateStore
  let slos: SLOStore
  let receivers: ReceiverStore
  let statuses: SLOStatusEngine
  let outcomeMetrics: OutcomeMetrics?
  let logger: Logger

  init(
    database: Database, minuteRetention: Duration, hourRetention: Duration, dayRetention: Duration = .seconds(400 * 86_400),
    outcomeMetrics: OutcomeMetrics?, logger: Logger
  ) {
    self.database = database
    self.aggregates = AggregateStore(
      database: database, logger: logger, minuteRetention: minuteRetention, hourRetention: hourRetention, dayRetention: dayRetention)
    self.slos = SLOStore(database: database, logger: logger)
    self.receivers = ReceiverStore(database: database, logger: logger)
    self.statuses = SLOStatusEngine(store: self.aggregates)
    self.outcomeMetrics = outcomeMetrics
    self.logger = logger
  }

  /// The evaluator for these stores.
  func makeEvaluator(interval: Duration, metrics: SLOStatusMetrics?, externalURL: String) -> AlertEvaluator {
    AlertEvaluator(
      slos: self.slos, statuses: self.statuses, receivers: self.receivers, database: self.database, metrics: metrics,
      interval: interval, externalURL: externalURL, logger: self.logger
    )
  }
}
