import Foundation
import MaestroKit
import MaestroProtos
import MaestroWorkflowModel
import Prometheus
import SwiftProtobuf

/// Run and step outcomes as Prometheus metrics (served on the admin port's /metrics):
/// - `maestro_workflow_runs_started_total{workflow}`
/// - `maestro_workflow_runs_finished_total{workflow,status}`
/// - `maestro_workflow_run_duration_seconds{workflow,status}` (start → finish)
/// - `maestro_workflow_run_sla_total{workflow,result}` (`met` / `missed`)
/// - `maestro_workflow_steps_finished_total{workflow,type,status}`
/// - `maestro_workflow_leases_expired_total`
///
/// With a ``reporter``, every finished run is also sent to metrics-service as an outcome event
/// (asynchronously; the reporter never blocks).
struct WorkflowMetrics: Sendable {
  let registry: PrometheusCollectorRegistry
  /// Where finished runs are reported (metrics-service); nil = not reported.
  var reporter: OutcomeReporter? = nil

  private static let durationBuckets: [Duration] = [
    .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
    .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600),
  ]

  private func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(namespace: "maestro", subsystem: "workflow", metricName: name, unitName: unit, helpText: help)
  }

  func runStarted(workflow: String) {
    self.registry.makeCounter(descriptor: self.descriptor("runs_started", "total", "Runs started."), labels: [("workflow", workflow)]).increment()
  }

  func runFinished(_ run: RunRecord, status: RunStatus) {
    self.reporter?.report(Self.outcome(run, status: status))
    let status = status.rawValue.lowercased()
    self.registry.makeCounter(
      descriptor: self.descriptor("runs_finished", "total", "Runs that reached a terminal status."),
      labels: [("workflow", run.workflowName), ("status", status)]
    ).increment()
    if let started = run.startedAt, let finished = run.finishedAt {
      self.registry.makeDurationHistogram(
        descriptor: self.descriptor("run_duration", "seconds", "Run start to finish."),
        labels: [("workflow", run.workflowName), ("status", status)],
        buckets: Self.durationBuckets
      ).record(.milliseconds(Int64(max(0, finished.timeIntervalSince(started)) * 1000)))
    }
    if let slaMet = run.slaMet, slaMet {
      self.sla(workflow: run.workflowName, met: true)
    }
  }

  /// A finished run as metrics-service's outcome event.
  static func outcome(_ run: RunRecord, status: RunStatus) -> Maestro_Metrics_V1_OutcomeEvent {
    .with {
      $0.kind = .run
      $0.tenant = run.tenant
      $0.workflow = run.workflowName
      switch status {
      case .completed: $0.status = .succeeded
      case .failed: $0.status = .failed
      case .cancelled: $0.status = .cancelled
      case .timedOut: $0.status = .timedOut
      case .queued, .running: $0.status = .unspecified
      }
      let finished = run.finishedAt ?? Date()
      let seconds = max(0, finished.timeIntervalSince(run.startedAt ?? run.createdAt))
      $0.duration = Google_Protobuf_Duration(seconds: Int64(seconds), nanos: Int32((seconds - seconds.rounded(.down)) * 1e9))
      if run.slaDeadline != nil, let met = run.slaMet { $0.slaMet = met }
      $0.occurredAt = Google_Protobuf_Timestamp(date: finished)
    }
  }

  func slaMissed(workflow: String) { self.sla(workflow: workflow, met: false) }

  private func sla(workflow: String, met: Bool) {
    self.registry.makeCounter(
      descriptor: self.descriptor("run_sla", "total", "Runs with an SLA, by whether it was met."),
      labels: [("workflow", workflow), ("result", met ? "met" : "missed")]
    ).increment()
  }

  /// A finished step attempt.
  struct StepOutcome: Sendable {
    var tenant: String
    var workflow: String
    var stepID: String
    var type: String
    var status: StepStatus
    /// The failure's error class (user, platform, timeout), when it failed.
    var errorClass: String?
    /// When the attempt started running (its claim), if known.
    var startedAt: Date?
    var finishedAt: Date
  }

  func stepFinished(_ step: StepOutcome) {
    self.reporter?.report(Self.outcome(step))
    self.registry.makeCounter(
      descriptor: self.descriptor("steps_finished", "total", "Step attempts that finished."),
      labels: [("workflow", step.workflow), ("type", step.type), ("status", step.status.rawValue.lowercased())]
    ).increment()
  }

  /// A finished step attempt as metrics-service's outcome event.
  static func outcome(_ step: StepOutcome) -> Maestro_Metrics_V1_OutcomeEvent {
    .with {
      $0.kind = .step
      $0.tenant = step.tenant
      $0.workflow = step.workflow
      // A foreach iteration (`<id>[i]`) counts as its foreach step: one series per step.
      $0.stepID = CompiledWorkflow.parseIterationID(step.stepID)?.step ?? step.stepID
      switch step.status {
      case .completed: $0.status = .succeeded
      case .failed: $0.status = .failed
      case .cancelled: $0.status = .cancelled
      case .timedOut: $0.status = .timedOut
      case .skipped: $0.status = .skipped
      default: $0.status = .unspecified
      }
      if let errorClass = step.errorClass { $0.code = errorClass }
      let seconds = max(0, step.finishedAt.timeIntervalSince(step.startedAt ?? step.finishedAt))
      $0.duration = Google_Protobuf_Duration(seconds: Int64(seconds), nanos: Int32((seconds - seconds.rounded(.down)) * 1e9))
      $0.occurredAt = Google_Protobuf_Timestamp(date: step.finishedAt)
    }
  }

  func leasesExpired(_ count: Int) {
    self.registry.makeCounter(descriptor: self.descriptor("leases_expired", "total", "Step leases that expired and were re-queued."))
      .increment(by: Int64(count))
  }
}
