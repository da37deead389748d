import Foundation
import GRPCCore
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroWorkflowModel
import SwiftProtobuf

/// The worker API (`maestro.workflow.v1.WorkerService`): external workers long-poll their
/// tenant's task queues, heartbeat, and complete or fail the tasks they hold.
struct WorkerGRPCService: Maestro_Workflow_V1_WorkerService.SimpleServiceProtocol {
  let engine: WorkflowEngine

  static let defaultWait: Duration = .seconds(30)
  static let maxWait: Duration = .seconds(60)

  func pollTask(request: Maestro_Workflow_V1_PollTaskRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_PollTaskResponse {
    let caller = try WorkflowGRPCService.caller()
    guard !request.taskQueues.isEmpty, request.taskQueues.count <= 32 else {
      throw MaestroError.invalidArgument(field: "task_queues", "name 1 to 32 task queues")
    }
    for (index, queue) in request.taskQueues.enumerated() where queue.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9._:-]{0,127}/) == nil {
      throw MaestroError.invalidArgument(field: "task_queues[\(index)]", "must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
    }
    guard request.workerIdentity.utf8.count <= 200 else {
      throw MaestroError.invalidArgument(field: "worker_identity", "must be at most 200 bytes")
    }
    var wait = Self.defaultWait
    if request.hasWaitTimeout {
      let asked = request.waitTimeout.swiftDuration
      guard asked >= .zero, asked <= Self.maxWait else {
        throw MaestroError.invalidArgument(field: "wait_timeout", "must be between 0s and 60s")
      }
      wait = asked
    }
    let worker = request.workerIdentity.isEmpty ? caller.subject : request.workerIdentity
    // The poll ends early when the worker goes away or the server shuts down (its task is
    // cancelled; a claim in flight still commits and is then returned, or its lease expires).
    let engine = self.engine
    let queues = request.taskQueues
    let waitFor = wait
    let claimed = try await withTaskCancelledOnRPCCancellation {
      try await engine.pollTask(tenant: caller.tenant, queues: queues, worker: worker, wait: waitFor)
    }
    guard let task = claimed else {
      return Maestro_Workflow_V1_PollTaskResponse()
    }
    return .with { response in
      response.task = .with {
        $0.taskToken = task.token.encoded
        $0.tenant = task.token.tenant
        $0.runID = task.token.runID.uuidString.lowercased()
        $0.stepID = task.token.stepID
        $0.attempt = Int32(task.token.attempt)
        $0.taskQueue = task.taskQueue
        $0.workflowName = task.workflowName
        $0.workflowVersion = Int32(task.workflowVersion)
        $0.input = task.input.protobufStruct
        if let heartbeat = task.heartbeatTimeout { $0.heartbeatTimeout = Google_Protobuf_Duration(seconds: Int64(heartbeat.seconds), nanos: Int32(((heartbeat.seconds - heartbeat.seconds.rounded(.down)) * 1e9).rounded())) }
        if let deadline = task.deadline { $0.deadline = Google_Protobuf_Timestamp(date: deadline) }
        if let scheduled = task.scheduledAt { $0.scheduledAt = Google_Protobuf_Timestamp(date: scheduled) }
        $0.startedAt = Google_Protobuf_Timestamp(date: task.startedAt)
        if let details = task.lastHeartbeatDetails { $0.lastHeartbeatDetails = details.protobufStruct }
      }
    }
  }

  func heartbeatTask(request: Maestro_Workflow_V1_HeartbeatTaskRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_HeartbeatTaskResponse {
    let caller = try WorkflowGRPCService.caller()
    let token = try WorkflowEngine.TaskToken(decoding: request.taskToken)
    let outcome = try await self.engine.heartbeatTask(
      tenant: caller.tenant, token: token, details: request.hasDetails ? JSONValue(request.details) : nil
    )
    return .with {
      $0.cancelRequested = outcome.cancelRequested
      if let expires = outcome.leaseExpiresAt { $0.leaseExpiresAt = Google_Protobuf_Timestamp(date: expires) }
    }
  }

  func completeTask(request: Maestro_Workflow_V1_CompleteTaskRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_CompleteTaskResponse {
    let caller = try WorkflowGRPCService.caller()
    let token = try WorkflowEngine.TaskToken(decoding: request.taskToken)
    try await self.engine.finishTask(tenant: caller.tenant, token: token, result: .completed(output: JSONValue(request.output)))
    return Maestro_Workflow_V1_CompleteTaskResponse()
  }

  func failTask(request: Maestro_Workflow_V1_FailTaskRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_FailTaskResponse {
    let caller = try WorkflowGRPCService.caller()
    let token = try WorkflowEngine.TaskToken(decoding: request.taskToken)
    guard !request.errorMessage.isEmpty, request.errorMessage.utf8.count <= 4096 else {
      throw MaestroError.invalidArgument(field: "error_message", "describe the failure in 1 to 4096 bytes")
    }
    let failure = StepFailure(
      request.errorMessage, errorClass: StepFailure.ErrorClass(request.errorClass), type: request.errorType, nonRetryable: request.nonRetryable
    )
    let retried = try await self.engine.finishTask(tenant: caller.tenant, token: token, result: .failed(failure))
    return .with { $0.willRetry = retried }
  }
}
