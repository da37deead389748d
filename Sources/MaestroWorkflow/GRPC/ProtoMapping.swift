import Foundation
import MaestroProtos
import MaestroWorkflowModel
import SwiftProtobuf

extension RunStatus {
  var proto: Maestro_Workflow_V1_RunStatus {
    switch self {
    case .queued: .pending
    case .running: .running
    case .completed: .completed
    case .failed: .failed
    case .cancelled: .cancelled
    case .timedOut: .timedOut
    }
  }

  init?(_ proto: Maestro_Workflow_V1_RunStatus) {
    switch proto {
    case .pending: self = .queued
    case .running: self = .running
    case .completed: self = .completed
    case .failed: self = .failed
    case .cancelled: self = .cancelled
    case .timedOut: self = .timedOut
    default: return nil
    }
  }
}

extension StepStatus {
  var proto: Maestro_Workflow_V1_StepStatus {
    switch self {
    case .pending: .pending
    case .ready: .scheduled
    case .running: .running
    case .waiting: .waiting
    case .completed: .completed
    case .failed: .failed
    case .skipped: .skipped
    case .cancelled: .cancelled
    case .timedOut: .timedOut
    }
  }
}

extension StepFailure {
  var proto: Maestro_Common_V1_Failure {
    .with {
      $0.message = self.message
      $0.type = self.type
      $0.nonRetryable = self.nonRetryable
      $0.errorClass =
        switch self.errorClass {
        case .user: .user
        case .platform: .platform
        case .timeout: .timeout
        case .cancelled: .unspecified
        }
    }
  }
}

extension RunRecord {
  /// As the API's `Run` (steps are added by GetRun).
  var proto: Maestro_Workflow_V1_Run {
    .with { run in
      run.id = self.id.uuidString.lowercased()
      run.tenant = self.tenant
      run.workflowName = self.workflowName
      run.workflowVersion = Int32(self.workflowVersion)
      run.status = self.status.proto
      run.input = self.input.protobufStruct
      if let output = self.output { run.output = output.protobufStruct }
      if let error = self.error.flatMap(StepFailure.init(json:)) {
        run.error = error.proto
        if let stepID = self.error?["step_id"]?.stringValue { run.error.details = JSONValue.object(["step_id": .string(stepID)]).protobufStruct }
      }
      run.createdAt = Google_Protobuf_Timestamp(date: self.createdAt)
      if let startedAt = self.startedAt { run.startedAt = Google_Protobuf_Timestamp(date: startedAt) }
      if let finishedAt = self.finishedAt { run.completedAt = Google_Protobuf_Timestamp(date: finishedAt) }
      if let slaDeadline = self.slaDeadline { run.slaDeadline = Google_Protobuf_Timestamp(date: slaDeadline) }
      if let slaMet = self.slaMet { run.slaMet = slaMet }
      if let deadline = self.deadline { run.deadline = Google_Protobuf_Timestamp(date: deadline) }
      run.idempotencyKey = self.idempotencyKey ?? ""
      run.parentRunID = self.parentRunID?.uuidString.lowercased() ?? ""
      run.parentStepID = self.parentStepID ?? ""
      run.runAttempt = Int32(self.runAttempt)
      if case .object(let labels) = self.labels { run.labels = labels.compactMapValues(\.stringValue) }
      run.startedBy = self.startedBy ?? ""
      run.lastEventSequence = self.lastEventSequence
    }
  }
}

/// One `StepExecution` per step of the definition (steps not reached yet are PENDING), each
/// with all of its attempts.
func stepExecutions(_ records: [StepRecord], workflow: CompiledWorkflow?) -> [Maestro_Workflow_V1_StepExecution] {
  let byStep = Dictionary(grouping: records, by: \.stepID).mapValues { $0.sorted { $0.attempt < $1.attempt } }
  let order = workflow?.order ?? byStep.keys.filter { CompiledWorkflow.parseIterationID($0) == nil }.sorted()
  // foreach iterations (`<id>[i]`), listed after their foreach step in index order.
  var iterations: [String: [(index: Int, stepID: String)]] = [:]
  for key in byStep.keys {
    if let (id, index) = CompiledWorkflow.parseIterationID(key), workflow?.steps[key] == nil { iterations[id, default: []].append((index, key)) }
  }
  func execution(_ id: String) -> Maestro_Workflow_V1_StepExecution {
    guard let attempts = byStep[id], let latest = attempts.last else {
      return .with {
        $0.stepID = id
        $0.stepType = workflow?.steps[id]?.type.rawValue ?? ""
        $0.status = .pending
      }
    }
    return .with { step in
      step.stepID = id
      step.stepType = latest.stepType
      step.status = latest.status.proto
      step.attempt = Int32(latest.attempt)
      if let input = latest.input { step.input = input.protobufStruct }
      if let output = latest.output { step.output = output.protobufStruct }
      if let error = latest.error { step.error = error.proto }
      step.scheduledAt = Google_Protobuf_Timestamp(date: latest.createdAt)
      if let startedAt = latest.startedAt { step.startedAt = Google_Protobuf_Timestamp(date: startedAt) }
      if let finishedAt = latest.finishedAt { step.completedAt = Google_Protobuf_Timestamp(date: finishedAt) }
      if latest.status == .ready, let visibleAt = latest.visibleAt { step.nextAttemptAt = Google_Protobuf_Timestamp(date: visibleAt) }
      step.workerIdentity = latest.leaseOwner ?? ""
      step.attempts = attempts.map { attempt in
        .with {
          $0.attempt = Int32(attempt.attempt)
          $0.status = attempt.status.proto
          if let startedAt = attempt.startedAt { $0.startedAt = Google_Protobuf_Timestamp(date: startedAt) }
          if let finishedAt = attempt.finishedAt { $0.completedAt = Google_Protobuf_Timestamp(date: finishedAt) }
          if let error = attempt.error { $0.error = error.proto }
          $0.workerIdentity = attempt.leaseOwner ?? ""
        }
      }
    }
  }
  return order.flatMap { id -> [Maestro_Workflow_V1_StepExecution] in
    var executions = [execution(id)]
    for (index, key) in (iterations[id] ?? []).sorted(by: { $0.index < $1.index }) {
      var iteration = execution(key)
      iteration.stepID = id
      iteration.foreachIndex = Int32(index)
      executions.append(iteration)
    }
    return executions
  }
}

extension EventRecord {
  func proto(runID: UUID) -> Maestro_Workflow_V1_RunEvent {
    .with { event in
      event.runID = runID.uuidString.lowercased()
      event.sequence = self.sequence
      event.type = Maestro_Workflow_V1_RunEventType(eventName: self.type)
      event.occurredAt = Google_Protobuf_Timestamp(date: self.occurredAt)
      if let stepID = self.stepID, let (id, index) = CompiledWorkflow.parseIterationID(stepID) {
        event.stepID = id
        event.foreachIndex = Int32(index)
      } else {
        event.stepID = self.stepID ?? ""
      }
      event.attempt = Int32(self.attempt ?? 0)
      event.payload = self.payload.protobufStruct
    }
  }
}

extension Maestro_Workflow_V1_RunEventType {
  /// From the stored name, e.g. `STEP_COMPLETED`.
  init(eventName: String) {
    self = Self.allCases.first { "\($0)".uppercased() == eventName.replacingOccurrences(of: "_", with: "") } ?? .unspecified
  }
}
