import Foundation
import MaestroProtos
import MaestroSchedulerModel

/// The schedules every installation starts with in the reference tenant: hello-world every 5
/// minutes and hello-case every 6 hours. Installed when absent (never overwritten: an operator
/// may pause or change them); `MAESTRO_SCHEDULER_REFERENCE_SCHEDULES=false` skips them.
/// A target workflow that does not exist yet makes its fires START_FAILED, nothing worse.
enum ReferenceSchedules {
  static let all: [Maestro_Scheduler_V1_Schedule] = [
    .with {
      $0.id = "reference-hello-world"
      $0.name = "hello-world every 5 minutes"
      $0.description_p = "Reference schedule: runs the hello-world workflow every 5 minutes (UTC)."
      $0.spec = .with { $0.cronExpressions = ["*/5 * * * *"]; $0.timeZone = "UTC" }
      $0.target = .with { $0.workflowName = "hello-world" }
      $0.overlapPolicy = .skip
      $0.labels = ["maestro.reference": "true"]
    },
    .with {
      $0.id = "reference-hello-case"
      $0.name = "hello-case every 6 hours"
      $0.description_p = "Reference schedule: runs the hello-case workflow every 6 hours (UTC)."
      $0.spec = .with { $0.cronExpressions = ["0 */6 * * *"]; $0.timeZone = "UTC" }
      $0.target = .with { $0.workflowName = "hello-case" }
      $0.overlapPolicy = .skip
      $0.labels = ["maestro.reference": "true"]
    },
  ]

  static func install(engine: SchedulerEngine, tenant: String) async throws {
    var installed: [String] = []
    for schedule in self.all {
      let validated = try ScheduleValidator.validate(schedule)
      var record = ScheduleRecord(uuid: UUID(), tenant: tenant, validated: validated, createdBy: "system:reference", now: Date())
      try record.scheduleNext(after: Date())
      let inserted = try await engine.database.withTransaction { connection in
        try await engine.store.insert(record, ifAbsent: true, on: connection)
      }
      if inserted { installed.append(record.id) }
    }
    if !installed.isEmpty { await engine.store.notifyChanged() }
    engine.logger.info("reference schedules", metadata: ["tenant": "\(tenant)", "installed": "\(installed.joined(separator: ","))"])
  }
}
