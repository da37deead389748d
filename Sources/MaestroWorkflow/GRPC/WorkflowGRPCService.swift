import Foundation
import GRPCCore
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroWorkflowModel
import SwiftProtobuf

/// `maestro.workflow.v1.WorkflowService`: thin handlers — decode, take the tenant from the
/// verified caller, call the engine or the definition store, map the result.
struct WorkflowGRPCService: Maestro_Workflow_V1_WorkflowService.SimpleServiceProtocol {
  let engine: WorkflowEngine
  let events: RunEventPoller

  /// The caller's tenant and subject (the authentication interceptor has verified them).
  static func caller() throws -> Principal {
    guard let principal = RequestContext.current?.principal else {
      throw MaestroError.unauthenticated("missing bearer token")
    }
    return principal
  }

  static func runID(_ text: String, field: String = "run_id") throws -> UUID {
    guard let id = UUID(uuidString: text) else {
      throw MaestroError.invalidArgument(field: field, "must be a run id (a UUID), got '\(text.prefix(64))'")
    }
    return id
  }

  // MARK: Definitions

  func registerWorkflow(request: Maestro_Workflow_V1_RegisterWorkflowRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_RegisterWorkflowResponse {
    let caller = try Self.caller()
    guard request.hasDefinition else { throw MaestroError.invalidArgument(field: "definition", "is required") }
    let issues = DefinitionValidator.validate(request.definition)
    guard issues.isEmpty else { throw MaestroError.invalidDefinition(issues, summary: "invalid workflow definition") }
    let (stored, created) = try await self.engine.inTenant(caller.tenant) { connection in
      try await self.engine.definitions.register(request.definition, tenant: caller.tenant, createdBy: caller.subject, on: connection)
    }
    return .with {
      $0.workflow = Self.workflow(stored, tenant: caller.tenant)
      $0.created = created
    }
  }

  func getWorkflow(request: Maestro_Workflow_V1_GetWorkflowRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_GetWorkflowResponse {
    let caller = try Self.caller()
    guard !request.name.isEmpty else { throw MaestroError.invalidArgument(field: "name", "is required") }
    guard request.version >= 0 else { throw MaestroError.invalidArgument(field: "version", "must not be negative") }
    let stored = try await self.engine.inTenant(caller.tenant) { connection in
      try await self.engine.definitions.get(tenant: caller.tenant, name: request.name, version: Int(request.version), on: connection)
    }
    guard let stored else { throw MaestroError.notFound("workflow '\(request.name)' not found") }
    return .with { $0.workflow = Self.workflow(stored, tenant: caller.tenant) }
  }

  func listWorkflows(request: Maestro_Workflow_V1_ListWorkflowsRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_ListWorkflowsResponse {
    let caller = try Self.caller()
    let size = try Paging.size(request.pageSize)
    let after = try Paging.decode(request.pageToken)?["n"]?.stringValue ?? ""
    let labels = JSONValue.object(request.labels.mapValues(JSONValue.string)).jsonText
    let (items, next) = try await self.engine.inTenant(caller.tenant) { connection in
      let rows = try await connection.query(
        """
        SELECT DISTINCT ON (name) name, definition::text, checksum, created_at, created_by FROM workflow_definitions
        WHERE tenant = \(caller.tenant) AND name > \(after) AND name LIKE \(Self.likePrefix(request.namePrefix)) AND labels @> \(labels)::jsonb
        ORDER BY name, version DESC LIMIT \(size + 1)
        """,
        logger: self.engine.logger
      )
      var items: [DefinitionStore.Stored] = []
      for try await (_, json, checksum, createdAt, createdBy) in rows.decode((String, String, String, Date, String?).self) {
        items.append(.init(definition: try Maestro_Workflow_V1_WorkflowDefinition(jsonString: json), checksum: checksum, createdAt: createdAt, createdBy: createdBy))
      }
      var next = ""
      if items.count > size {
        items.removeLast()
        next = Paging.encode(["n": .string(items[items.count - 1].definition.name)])
      }
      return (items, next)
    }
    return .with {
      $0.workflows = items.map { Self.workflow($0, tenant: caller.tenant) }
      $0.nextPageToken = next
    }
  }

  func listWorkflowVersions(request: Maestro_Workflow_V1_ListWorkflowVersionsRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_ListWorkflowVersionsResponse {
    let caller = try Self.caller()
    guard !request.name.isEmpty else { throw MaestroError.invalidArgument(field: "name", "is required") }
    let size = try Paging.size(request.pageSize)
    let before = Int(try Paging.decode(request.pageToken)?["v"]?.numberValue ?? Double(Int32.max))
    let (items, next) = try await self.engine.inTenant(caller.tenant) { connection in
      let rows = try await connection.query(
        """
        SELECT definition::text, checksum, created_at, created_by FROM workflow_definitions
        WHERE tenant = \(caller.tenant) AND name = \(request.name) AND version < \(before)
        ORDER BY version DESC LIMIT \(size + 1)
        """,
        logger: self.engine.logger
      )
      var items: [DefinitionStore.Stored] = []
      for try await (json, checksum, createdAt, createdBy) in rows.decode((String, String, Date, String?).self) {
        items.append(.init(definition: try Maestro_Workflow_V1_WorkflowDefinition(jsonString: json), checksum: checksum, createdAt: createdAt, createdBy: createdBy))
      }
      var next = ""
      if items.count > size {
        items.removeLast()
        next = Paging.encode(["v": .number(Double(items[items.count - 1].definition.version))])
      }
      return (items, next)
    }
    return .with {
      $0.workflows = items.map { Self.workflow($0, tenant: caller.tenant) }
      $0.nextPageToken = next
    }
  }

  func validateWorkflow(request: Maestro_Workflow_V1_ValidateWorkflowRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_ValidateWorkflowResponse {
    _ = try Self.caller()
    let issues = DefinitionValidator.validate(request.definition)
    return .with {
      $0.valid = issues.isEmpty
      $0.issues = issues.map { issue in
        .with {
          $0.path = issue.path
          $0.message = issue.message
          $0.code = issue.code
        }
      }
    }
  }

  func deleteWorkflow(request: Maestro_Workflow_V1_DeleteWorkflowRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_DeleteWorkflowResponse {
    let caller = try Self.caller()
    guard !request.name.isEmpty else { throw MaestroError.invalidArgument(field: "name", "is required") }
    let deleted = try await self.engine.inTenant(caller.tenant) { connection in
      try await connection.query(
        """
        DELETE FROM workflow_definitions WHERE tenant = \(caller.tenant) AND name = \(request.name)
          AND (\(request.version) = 0 OR version = \(request.version)) RETURNING version
        """,
        logger: self.engine.logger
      ).collect().count
    }
    guard deleted > 0 else { throw MaestroError.notFound("workflow '\(request.name)' not found") }
    return .init()
  }

  // Templates: WorkflowGRPCService+Templates.swift.

  // MARK: Runs

  func startRun(request: Maestro_Workflow_V1_StartRunRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_StartRunResponse {
    let caller = try Self.caller()
    guard !request.workflowName.isEmpty else { throw MaestroError.invalidArgument(field: "workflow_name", "is required") }
    guard request.workflowVersion >= 0 else { throw MaestroError.invalidArgument(field: "workflow_version", "must not be negative") }
    guard request.idempotencyKey.count <= 256 else { throw MaestroError.invalidArgument(field: "idempotency_key", "at most 256 characters") }
    let (run, created) = try await self.engine.startRun(tenant: caller.tenant, .init(
      workflowName: request.workflowName,
      workflowVersion: Int(request.workflowVersion),
      input: JSONValue(request.input),
      idempotencyKey: request.idempotencyKey.isEmpty ? nil : request.idempotencyKey,
      labels: request.labels,
      startedBy: caller.subject
    ))
    return .with {
      $0.run = run.proto
      $0.created = created
    }
  }

  func getRun(request: Maestro_Workflow_V1_GetRunRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_GetRunResponse {
    let caller = try Self.caller()
    let (run, steps, workflow) = try await self.engine.getRun(tenant: caller.tenant, id: try Self.runID(request.runID))
    return .with {
      $0.run = run.proto
      $0.run.steps = stepExecutions(steps, workflow: workflow)
    }
  }

  func listRuns(request: Maestro_Workflow_V1_ListRunsRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_ListRunsResponse {
    let caller = try Self.caller()
    var filter = WorkflowEngine.RunFilter()
    filter.workflowName = request.workflowName.isEmpty ? nil : request.workflowName
    for (index, status) in request.statuses.enumerated() {
      guard let mapped = RunStatus(status) else { throw MaestroError.invalidArgument(field: "statuses[\(index)]", "unknown run status") }
      filter.statuses.append(mapped)
    }
    if request.hasCreated {
      if request.created.hasStartTime { filter.createdAfter = request.created.startTime.date }
      if request.created.hasEndTime { filter.createdBefore = request.created.endTime.date }
    }
    if !request.parentRunID.isEmpty { filter.parentRunID = try Self.runID(request.parentRunID, field: "parent_run_id") }
    if request.labels.count > 20 { throw MaestroError.invalidArgument(field: "labels", "at most 20 label filters") }
    filter.labels = request.labels
    let (runs, next) = try await self.engine.listRuns(tenant: caller.tenant, filter: filter, pageSize: try Paging.size(request.pageSize), pageToken: request.pageToken)
    return .with {
      $0.runs = runs.map(\.proto)
      $0.nextPageToken = next
    }
  }

  func cancelRun(request: Maestro_Workflow_V1_CancelRunRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_CancelRunResponse {
    let caller = try Self.caller()
    let run = try await self.engine.cancelRun(tenant: caller.tenant, id: try Self.runID(request.runID), reason: request.reason, by: caller.subject)
    return .with { $0.run = run.proto }
  }

  func retryRun(request: Maestro_Workflow_V1_RetryRunRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_RetryRunResponse {
    let caller = try Self.caller()
    let run = try await self.engine.retryRun(tenant: caller.tenant, id: try Self.runID(request.runID), reason: request.reason)
    return .with { $0.run = run.proto }
  }

  func signalRun(request: Maestro_Workflow_V1_SignalRunRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_SignalRunResponse {
    let caller = try Self.caller()
    let id = try Self.runID(request.runID)
    guard request.signalName.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9._:-]{0,127}/) != nil else {
      throw MaestroError(.invalidArgument, "signal_name must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}", field: "signal_name")
    }
    guard request.requestID.utf8.count <= 200 else {
      throw MaestroError(.invalidArgument, "request_id must be at most 200 bytes", field: "request_id")
    }
    let outcome = try await self.engine.signalRun(
      tenant: caller.tenant, id: id, name: request.signalName, payload: JSONValue(request.payload), requestID: request.requestID, caller: caller
    )
    return .with {
      $0.stepID = outcome.stepID ?? ""
      $0.buffered = outcome.buffered
    }
  }

  func getRunHistory(request: Maestro_Workflow_V1_GetRunHistoryRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_GetRunHistoryResponse {
    let caller = try Self.caller()
    let id = try Self.runID(request.runID)
    guard request.afterSequence >= 0 else { throw MaestroError.invalidArgument(field: "after_sequence", "must not be negative") }
    let (events, next) = try await self.engine.history(
      tenant: caller.tenant, runID: id, afterSequence: request.afterSequence, pageSize: try Paging.size(request.pageSize), pageToken: request.pageToken
    )
    return .with {
      $0.events = events.map { $0.proto(runID: id) }
      $0.nextPageToken = next
    }
  }

  func watchRun(
    request: Maestro_Workflow_V1_WatchRunRequest,
    response: RPCWriter<Maestro_Workflow_V1_WatchRunResponse>,
    context: ServerContext
  ) async throws {
    let caller = try Self.caller()
    let id = try Self.runID(request.runID)
    guard request.fromSequence >= 0 else { throw MaestroError.invalidArgument(field: "from_sequence", "must not be negative") }
    try await self.events.watch(tenant: caller.tenant, runID: id, after: request.fromSequence) { event in
      try await response.write(.with { $0.event = event.proto(runID: id) })
    }
  }

  // MARK: Helpers

  static func workflow(_ stored: DefinitionStore.Stored, tenant: String) -> Maestro_Workflow_V1_Workflow {
    .with {
      $0.definition = stored.definition
      $0.contentHash = stored.checksum
      $0.meta = .with { meta in
        meta.tenant = tenant
        meta.createdAt = Google_Protobuf_Timestamp(date: stored.createdAt)
        meta.updatedAt = Google_Protobuf_Timestamp(date: stored.createdAt)
        meta.createdBy = stored.createdBy ?? ""
      }
    }
  }

  /// A LIKE pattern matching names that start with `prefix` (wildcards escaped).
  static func likePrefix(_ prefix: String) -> String {
    prefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
  }
}
