import Foundation
import GRPCCore
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroSchedulerModel
import SwiftProtobuf

/// `maestro.scheduler.v1.SchedulerService`: thin handlers — decode, take the tenant from the
/// verified caller, call the store or the engine, map the result.
struct SchedulerGRPCService: Maestro_Scheduler_V1_SchedulerService.SimpleServiceProtocol {
  let engine: SchedulerEngine
  var store: ScheduleStore { self.engine.store }

  static func caller() throws -> Principal {
    guard let principal = RequestContext.current?.principal else { throw MaestroError.unauthenticated("missing bearer token") }
    return principal
  }

  func createSchedule(request: Maestro_Scheduler_V1_CreateScheduleRequest, context: ServerContext) async throws -> Maestro_Scheduler_V1_CreateScheduleResponse {
    let caller = try Self.caller()
    guard request.hasSchedule else { throw MaestroError.invalidArgument(field: "schedule", "is required") }
    let validated = try ScheduleValidator.validate(request.schedule)
    var record = ScheduleRecord(uuid: UUID(), tenant: caller.tenant, validated: validated, createdBy: caller.subject, now: Date())
    try record.scheduleNext(after: Date())
    try await self.engine.database.withTransaction { connection in
      _ = try await self.store.insert(record, on: connection)
    }
    await self.store.notifyChanged()
    let stored = try await self.engine.database.client.withConnection { connection in
      try await self.store.require(tenant: caller.tenant, id: record.id, on: connection)
    }
    record = stored
    return .with { $0.schedule = record.proto() }
  }

  func getSchedule(request: Maestro_Scheduler_V1_GetScheduleRequest, context: ServerContext) async throws -> Maestro_Scheduler_V1_GetScheduleResponse {
    let caller = try Self.caller()
    let schedule = try await self.engine.database.client.withConnection { connection in
      let record = try await self.store.require(tenant: caller.tenant, id: request.scheduleID, on: connection)
      return record.proto(try await self.store.extras(for: record, on: connection))
    }
    return .with { $0.schedule = schedule }
  }

  func listSchedules(request: Maestro_Scheduler_V1_ListSchedulesRequest, context: ServerContext) async throws -> Maestro_Scheduler_V1_ListSchedulesResponse {
    let caller = try Self.caller()
    guard let size = Paging.pageSize(request.pageSize) else { throw MaestroError.invalidArgument(field: "page_size", "must not be negative") }
    var after = ""
    if !request.pageToken.isEmpty {
      guard let cursor = PageCursor(token: request.pageToken, list: "schedules", count: 1) else {
        throw MaestroError.invalidArgument(field: "page_token", "is not a token returned by a previous page of this list")
      }
      after = cursor.values[0]
    }
    guard request.workflowName.count <= 128 else { throw MaestroError.invalidArgument(field: "workflow_name", "at most 128 characters") }
    try ScheduleValidator.checkLabels(request.labels, field: "labels")
    var items = try await self.engine.database.client.withConnection { connection in
      try await self.store.list(tenant: caller.tenant, after: after, limit: size + 1, workflowName: request.workflowName, labels: request.labels, on: connection)
    }
    var next = ""
    if items.count > size {
      items.removeLast()
      next = PageCursor(list: "schedules", values: [items[items.count - 1].id]).token
    }
    return .with {
      $0.schedules = items.map { $0.proto() }
      $0.nextPageToken = next
    }
  }

  static let updatablePaths = ["spec", "target", "overlap_policy", "catchup_window", "pause_after_failures", "name", "description", "labels"]

  func updateSchedule(request: Maestro_Scheduler_V1_UpdateScheduleRequest, context: ServerContext) async throws -> Maestro_Scheduler_V1_UpdateScheduleResponse {
    let caller = try Self.caller()
    guard request.hasSchedule else { throw MaestroError.invalidArgument(field: "schedule", "is required") }
    let paths = request.hasUpdateMask && !request.updateMask.paths.isEmpty ? request.updateMask.paths : Self.updatablePaths
    for path in paths where !Self.updatablePaths.contains(path) {
      throw MaestroError.invalidArgument(field: "update_mask", "unknown or immutable field '\(path.prefix(64))' (updatable: \(Self.updatablePaths.joined(separator: ", ")))")
    }
    let record = try await self.engine.database.withTransaction { connection in
      var record = try await self.store.require(tenant: caller.tenant, id: request.schedule.id, field: "schedule.id", forUpdate: true, on: connection)
      if request.schedule.revision != 0, request.schedule.revision != record.revision {
        throw MaestroError(.aborted, "schedule '\(record.id)' changed: revision is \(record.revision), the update was based on \(request.schedule.revision)")
      }
      var merged = record.proto()
      merged.state = .with { $0.paused = record.paused; $0.notes = record.notes }
      for path in paths {
        switch path {
        case "spec": merged.spec = request.schedule.spec
        case "target": merged.target = request.schedule.target
        case "overlap_policy": merged.overlapPolicy = request.schedule.overlapPolicy
        case "catchup_window": merged.catchupWindow = request.schedule.catchupWindow
        case "pause_after_failures": merged.pauseAfterFailures = request.schedule.pauseAfterFailures
        case "name": merged.name = request.schedule.name
        case "description": merged.description_p = request.schedule.description_p
        default: merged.labels = request.schedule.labels
        }
      }
      let validated = try ScheduleValidator.validate(merged)
      let specChanged = validated.spec != record.spec
      record.displayName = validated.displayName
      record.description = validated.description
      record.spec = validated.spec
      record.target = validated.target
      record.overlap = validated.overlap
      record.catchupWindowMilliseconds = validated.catchupWindowMilliseconds
      record.pauseAfterFailures = validated.pauseAfterFailures
      record.labels = validated.labels
      if specChanged { try record.scheduleNext(after: Date()) }
      try await self.store.update(record, on: connection)
      return try await self.store.require(tenant: caller.tenant, id: record.id, on: connection)
    }
    await self.store.notifyChanged()
    return .with { $0.schedule = record.proto() }
  }

  func deleteSchedule(request: Maestro_Scheduler_V1_DeleteScheduleRequest, context: ServerContext) async throws -> Maestro_Scheduler_V1_DeleteScheduleResponse {
    let caller = try Self.caller()
    guard !request.scheduleID.isEmpty else { throw MaestroError.invalidArgument(field: "schedule_id", "is required") }
    guard try await self.store.delete(tenant: caller.tenant, id: request.scheduleID) else {
      throw MaestroError.notFound("schedule '\(request.scheduleID.prefix(128))' not found")
    }
    return .init()
  }

  func pauseSchedule(request: Maestro_Scheduler_V1_PauseScheduleRequest, context: ServerContext) async throws -> Maestro_Scheduler_V1_PauseScheduleResponse {
    let caller = try Self.caller()
    guard request.note.count <= 1000 else { throw MaestroError.invalidArgument(field: "note", "at most 1000 characters") }
    let record = try await self.engine.database.withTransaction { connection in
      var record = try await self.store.require(tenant: caller.tenant, id: request.scheduleID, forUpdate: true, on: connection)
      record.paused = true
      record.pausedByFailures = false
      record.notes = request.note.isEmpty ? "paused by \(caller.subject)" : request.note
      try await self.store.update(record, pausedBy: caller.subject, on: connection)
      return try await self.store.require(tenant: caller.tenant, id: record.id, on: connection)
    }
    return .with { $0.schedule = record.proto() }
  }

  func resumeSchedule(request: Maestro_Scheduler_V1_ResumeScheduleRequest, context: ServerContext) async throws -> Maestro_Scheduler_V1_ResumeScheduleResponse {
    let caller = try Self.caller()
    guard request.note.count <= 1000 else { throw MaestroError.invalidArgument(field: "note", "at most 1000 characters") }
    guard !request.scheduleID.isEmpty else { throw MaestroError.invalidArgument(field: "schedule_id", "is required") }
    _ = try await self.engine.resume(tenant: caller.tenant, scheduleID: request.scheduleID, note: request.note)
    let record = try await self.engine.database.client.withConnection { connection in
      try await self.store.require(tenant: caller.tenant, id: request.scheduleID, on: connection)
    }
    return .with { $0.schedule = record.proto() }
  }

  func triggerSchedule(request: Maestro_Scheduler_V1_TriggerScheduleRequest, context: ServerContext) async throws -> Maestro_Scheduler_V1_TriggerScheduleResponse {
    let caller = try Self.caller()
    guard !request.scheduleID.isEmpty else { throw MaestroError.invalidArgument(field: "schedule_id", "is required") }
    let policy = try ScheduleValidator.overlap(request.overlapPolicy, field: "overlap_policy")
    let action = try await self.engine.trigger(tenant: caller.tenant, scheduleID: request.scheduleID, policy: policy)
    return .with { $0.action = action }
  }

  static let maximumPreview = 1000

  func previewSchedule(request: Maestro_Scheduler_V1_PreviewScheduleRequest, context: ServerContext) async throws -> Maestro_Scheduler_V1_PreviewScheduleResponse {
    let caller = try Self.caller()
    guard (0...Int32(Self.maximumPreview)).contains(request.count) else {
      throw MaestroError.invalidArgument(field: "count", "must be 0 (default 10) to \(Self.maximumPreview)")
    }
    let count = request.count == 0 ? 10 : Int(request.count)
    let spec: FireSpec
    switch request.source {
    case .scheduleID(let id):
      let record = try await self.engine.database.client.withConnection { connection in
        try await self.store.require(tenant: caller.tenant, id: id, on: connection)
      }
      spec = try record.fireSpec()
    case .spec(let inline):
      var withZone = inline
      if withZone.timeZone.isEmpty { withZone.timeZone = "UTC" }
      spec = try ScheduleValidator.fireSpec(withZone, field: "spec").get()
    case nil:
      throw MaestroError.invalidArgument(field: "schedule_id", "set schedule_id or spec")
    }
    let after = request.hasAfter ? request.after.date : Date()
    let times = spec.preview(after: Int64(after.timeIntervalSince1970.rounded(.down)), count: count).map { Date(timeIntervalSince1970: Double($0)) }
    return .with {
      $0.fireTimes = times.map { .init(date: $0) }
      $0.localFireTimes = times.map { FireKey.rfc3339($0, in: spec.zone.timeZone) }
    }
  }

  func backfillSchedule(request: Maestro_Scheduler_V1_BackfillScheduleRequest, context: ServerContext) async throws -> Maestro_Scheduler_V1_BackfillScheduleResponse {
    let caller = try Self.caller()
    guard !request.scheduleID.isEmpty else { throw MaestroError.invalidArgument(field: "schedule_id", "is required") }
    guard request.hasTimeRange, request.timeRange.hasStartTime else { throw MaestroError.invalidArgument(field: "time_range.start_time", "is required") }
    guard request.timeRange.hasEndTime else { throw MaestroError.invalidArgument(field: "time_range.end_time", "is required") }
    let start = request.timeRange.startTime.date
    let end = request.timeRange.endTime.date
    guard end > start else { throw MaestroError.invalidArgument(field: "time_range.end_time", "must be after start_time") }
    let policy = try ScheduleValidator.overlap(request.overlapPolicy, field: "overlap_policy") ?? .bufferAll
    let count = try await self.engine.backfill(tenant: caller.tenant, scheduleID: request.scheduleID, start: start, end: end, policy: policy)
    return .with { $0.fireCount = Int32(count) }
  }
}
