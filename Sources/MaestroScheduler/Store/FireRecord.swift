import Foundation
import MaestroProtos

/// Names shared by `schedule_fires` rows and the API's ScheduleAction.
enum FireRecord {
  /// Statuses of a fire whose run may still be going.
  static let live = ["starting", "running"]

  static func action(fireTime: Date, actedAt: Date, trigger: String, status: String, runID: String, runStatus: String, message: String) -> Maestro_Scheduler_V1_ScheduleAction {
    .with {
      $0.fireTime = .init(date: fireTime)
      $0.actedAt = .init(date: actedAt)
      $0.trigger = Self.trigger(trigger)
      $0.result = Self.result(status, message: message)
      $0.runID = runID
      $0.runStatus = runStatus
      $0.message = message
    }
  }

  static func trigger(_ text: String) -> Maestro_Scheduler_V1_ScheduleActionTrigger {
    switch text {
    case "schedule", "buffered": .scheduled
    case "catchup": .catchup
    case "trigger_now": .manual
    case "backfill": .backfill
    default: .unspecified
    }
  }

  static func result(_ status: String, message: String) -> Maestro_Scheduler_V1_ScheduleActionResult {
    switch status {
    case "starting", "running", "completed", "failed", "cancelled", "timed_out", "terminated": .started
    case "skipped": .skippedOverlap
    case "buffered": .buffered
    case "missed": .missed
    case "start_failed": message.hasPrefix(StartFailure.refusedPrefix) ? .refused : .startFailed
    default: .unspecified
    }
  }

  /// The stored status of a finished run.
  static func status(of run: Maestro_Workflow_V1_RunStatus) -> String? {
    switch run {
    case .completed: "completed"
    case .failed: "failed"
    case .cancelled: "cancelled"
    case .timedOut: "timed_out"
    default: nil
    }
  }

  /// Whether a fire that ended in `status` counts toward pause-on-failure (nil: leaves the count).
  static func failed(_ status: String) -> Bool? {
    switch status {
    case "completed": false
    case "failed", "timed_out", "start_failed": true
    default: nil
    }
  }
}

extension StartFailure {
  static let refusedPrefix = "refused: "
}
