import Foundation
import Logging
import MaestroKit

/// metrics-service's stores and engines, shared by the gRPC handlers and the background work.
public struct MetricsEngine: Sendable {
  public let database: Database
  public let aggregates: AggregateStore
  public let slos: SLOStore
  let receivers: ReceiverStore
  public let statuses: SLOStatusEngine
  let outcomeMetrics: OutcomeMetrics?
  public let logger: Logger

  public init(database: Database, minuteRetention: Duration, hourRetention: Duration, outcomeMetrics: OutcomeMetrics?, logger: Logger) {
    self.database = database
    self.aggregates = AggregateStore(database: database, logger: logger, minuteRetention: minuteRetention, hourRetention: hourRetention)
    self.slos = SLOStore(database: database, logger: logger)
    self.receivers = ReceiverStore(database: database, logger: logger)
    self.statuses = SLOStatusEngine(store: self.aggregates)
    self.outcomeMetrics = outcomeMetrics
    self.logger = logger
  }

  /// The evaluator for these stores.
  public func makeEvaluator(interval: Duration, metrics: SLOStatusMetrics?, externalURL: String) -> AlertEvaluator {
    AlertEvaluator(
      slos: self.slos, statuses: self.statuses, receivers: self.receivers, database: self.database, metrics: metrics,
      interval: interval, externalURL: externalURL, logger: self.logger
    )
  }
}
