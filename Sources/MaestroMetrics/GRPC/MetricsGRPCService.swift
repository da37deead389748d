import Foundation
import GRPCCore
import MaestroCore
import MaestroKit
import MaestroProtos
import SwiftProtobuf

/// `maestro.metrics.v1.MetricsService`: thin handlers — decode, take the tenant from the
/// verified caller, call the stores and engines, map the result.
struct MetricsGRPCService: Maestro_Metrics_V1_MetricsService.SimpleServiceProtocol {
  let engine: MetricsEngine
  let now: @Sendable () -> Date

  init(engine: MetricsEngine, now: @escaping @Sendable () -> Date = { Date() }) {
    self.engine = engine
    self.now = now
  }

  static func caller() throws -> Principal {
    guard let principal = RequestContext.current?.principal else { throw MaestroError.unauthenticated("missing bearer token") }
    return principal
  }

  static func pageSize(_ requested: Int32) throws -> Int {
    guard let size = Paging.pageSize(requested) else { throw MaestroError.invalidArgument(field: "page_size", "must not be negative") }
    return size
  }

  static func cursor(_ token: String, list: String, count: Int) throws -> [String]? {
    guard !token.isEmpty else { return nil }
    guard let cursor = PageCursor(token: token, list: list, count: count) else {
      throw MaestroError.invalidArgument(field: "page_token", "is not a token returned by a previous page of this list")
    }
    return cursor.values
  }

  // MARK: Ingest

  func recordEvents(request: Maestro_Metrics_V1_RecordEventsRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_RecordEventsResponse {
    let caller = try Self.caller()
    guard caller.kind == .serviceAccount else { throw MaestroError.permissionDenied("RecordEvents is for service accounts only") }
    guard request.events.count <= IngestBatch.maximumEvents else {
      throw MaestroError.invalidArgument(field: "events", "at most \(IngestBatch.maximumEvents) events per batch, got \(request.events.count)")
    }
    guard request.batchID.count <= 128 else { throw MaestroError.invalidArgument(field: "batch_id", "at most 128 characters") }
    let now = self.now()
    let batch = IngestBatch(
      events: request.events, callerTenant: caller.tenant, mayRecordAnyTenant: caller.has(.platformOperator), now: now,
      oldest: now.addingTimeInterval(-self.engine.aggregates.minuteRetention.seconds))
    let recorded = try await self.engine.aggregates.record(batch, batchID: request.batchID, caller: caller)
    if recorded { self.engine.outcomeMetrics?.record(batch.perSeries) }
    return .with {
      $0.duplicate = !recorded
      $0.accepted = recorded ? Int32(batch.accepted) : 0
      $0.rejected = Int32(batch.rejections.count)
      $0.rejections = batch.rejections.prefix(100).map { rejection in .with { $0.index = Int32(rejection.index); $0.reason = rejection.reason } }
    }
  }

  // MARK: SLOs

  func createSLO(request: Maestro_Metrics_V1_CreateSLORequest, context: ServerContext) async throws -> Maestro_Metrics_V1_CreateSLOResponse {
    let caller = try Self.caller()
    guard request.hasSlo else { throw MaestroError.invalidArgument(field: "slo", "is required") }
    let definition = try SLODefinition(proto: request.slo)
    let stored = try await self.engine.slos.create(definition, tenant: caller.tenant, source: "api")!
    return .with { $0.slo = stored.proto }
  }

  func getSLO(request: Maestro_Metrics_V1_GetSLORequest, context: ServerContext) async throws -> Maestro_Metrics_V1_GetSLOResponse {
    let caller = try Self.caller()
    let stored = try await self.stored(caller.tenant, request.name)
    return .with { $0.slo = stored.proto }
  }

  func stored(_ tenant: String, _ name: String, field: String = "name") async throws -> SLOStore.Stored {
    guard !name.isEmpty else { throw MaestroError.invalidArgument(field: field, "is required") }
    guard let stored = try await self.engine.slos.get(tenant: tenant, name: name) else { throw MaestroError.notFound("SLO '\(name.prefix(128))' not found") }
    return stored
  }

  func listSLOs(request: Maestro_Metrics_V1_ListSLOsRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_ListSLOsResponse {
    let caller = try Self.caller()
    let size = try Self.pageSize(request.pageSize)
    let after = try Self.cursor(request.pageToken, list: "slos", count: 1)?[0] ?? ""
    var items = try await self.engine.slos.list(tenant: caller.tenant, after: after, limit: size + 1, labels: request.labels)
    var next = ""
    if items.count > size {
      items.removeLast()
      next = PageCursor(list: "slos", values: [items.last!.definition.name]).token
    }
    return .with {
      $0.slos = items.map(\.proto)
      $0.nextPageToken = next
    }
  }

  func updateSLO(request: Maestro_Metrics_V1_UpdateSLORequest, context: ServerContext) async throws -> Maestro_Metrics_V1_UpdateSLOResponse {
    let caller = try Self.caller()
    let existing = try await self.stored(caller.tenant, request.slo.name, field: "slo.name")
    var merged = existing.definition.proto
    let paths = request.hasUpdateMask && !request.updateMask.paths.isEmpty
      ? request.updateMask.paths : ["description", "sli", "objective_percent", "window", "alerting", "labels"]
    for path in paths {
      switch path {
      case "description": merged.description_p = request.slo.description_p
      case "sli": merged.sli = request.slo.sli
      case "objective_percent": merged.objectivePercent = request.slo.objectivePercent
      case "window": merged.window = request.slo.window
      case "alerting": merged.alerting = request.slo.alerting
      case "labels": merged.labels = request.slo.labels
      default: throw MaestroError.invalidArgument(field: "update_mask", "unknown or immutable field '\(path.prefix(64))'")
      }
    }
    let updated = try await self.engine.slos.update(try SLODefinition(proto: merged), tenant: caller.tenant)
    return .with { $0.slo = updated.proto }
  }

  func deleteSLO(request: Maestro_Metrics_V1_DeleteSLORequest, context: ServerContext) async throws -> Maestro_Metrics_V1_DeleteSLOResponse {
    let caller = try Self.caller()
    guard !request.name.isEmpty else { throw MaestroError.invalidArgument(field: "name", "is required") }
    try await self.engine.slos.delete(tenant: caller.tenant, name: request.name)
    return .init()
  }

  func getSLOStatus(request: Maestro_Metrics_V1_GetSLOStatusRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_GetSLOStatusResponse {
    let caller = try Self.caller()
    let stored = try await self.stored(caller.tenant, request.sloName, field: "slo_name")
    let status = try await self.status(stored)
    return .with { $0.status = status }
  }

  func status(_ stored: SLOStore.Stored) async throws -> Maestro_Metrics_V1_SLOStatus {
    // The firing alerts are read beside the status (on another pooled connection).
    async let firingRows = self.engine.database.client.query(
      "SELECT id FROM alerts WHERE tenant = \(stored.tenant) AND slo_id = \(stored.id) AND state = 'firing' ORDER BY fired_at LIMIT 100",
      logger: self.engine.logger
    ).collect()
    let snapshot = try await self.engine.statuses.status(of: stored.definition, tenant: stored.tenant, now: self.now())
    let firing = try await firingRows.map { try $0.decode(UUID.self).uuidString.lowercased() }
    return .init(slo: stored.definition, snapshot: snapshot, firing: firing)
  }

  func listSLOStatuses(request: Maestro_Metrics_V1_ListSLOStatusesRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_ListSLOStatusesResponse {
    let caller = try Self.caller()
    let size = try Self.pageSize(request.pageSize)
    let after = try Self.cursor(request.pageToken, list: "slo-statuses", count: 1)?[0] ?? ""
    var items = try await self.engine.slos.list(tenant: caller.tenant, after: after, limit: size + 1)
    var next = ""
    if items.count > size {
      items.removeLast()
      next = PageCursor(list: "slo-statuses", values: [items.last!.definition.name]).token
    }
    var statuses: [Maestro_Metrics_V1_SLOStatus] = []
    for item in items { statuses.append(try await self.status(item)) }
    return .with {
      $0.statuses = statuses
      $0.nextPageToken = next
    }
  }

  // MARK: Stats and export

  func getWorkflowStats(request: Maestro_Metrics_V1_GetWorkflowStatsRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_GetWorkflowStatsResponse {
    let caller = try Self.caller()
    guard !request.workflow.isEmpty, request.workflow.count <= 256 else { throw MaestroError.invalidArgument(field: "workflow", "is required (at most 256 characters)") }
    let now = self.now()
    let end = request.timeRange.hasEndTime ? request.timeRange.endTime.date : now
    let start = request.timeRange.hasStartTime ? request.timeRange.startTime.date : end.addingTimeInterval(-86_400)
    guard start < end else { throw MaestroError.invalidArgument(field: "time_range", "start_time must be before end_time") }
    guard end.timeIntervalSince(start) <= SLODefinition.maximumWindow.seconds + 1 else { throw MaestroError.invalidArgument(field: "time_range", "at most 90 days") }
    let counts = try await self.engine.aggregates.counts(
      tenant: caller.tenant, filter: .init(kind: .run, workflow: request.workflow), ranges: [.init(start: start, end: end)], now: now)[0]
    return .with { $0.stats = .init(workflow: request.workflow, start: start, end: end, counts: counts) }
  }

  func exportPrometheusRules(request: Maestro_Metrics_V1_ExportPrometheusRulesRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_ExportPrometheusRulesResponse {
    let caller = try Self.caller()
    var selected: [SLOStore.Stored] = []
    if request.sloNames.isEmpty {
      var after = ""
      while true {
        let page = try await self.engine.slos.list(tenant: caller.tenant, after: after, limit: 500)
        selected += page
        guard page.count == 500, selected.count < 10_000 else { break }
        after = page.last!.definition.name
      }
    } else {
      guard request.sloNames.count <= 500 else { throw MaestroError.invalidArgument(field: "slo_names", "at most 500 names") }
      for name in request.sloNames { selected.append(try await self.stored(caller.tenant, name, field: "slo_names")) }
    }
    return .with { $0.rulesYaml = PrometheusRules.render(selected.map { ($0.tenant, $0.definition) }) }
  }
}

