import Foundation
import MaestroCore
import MaestroProtos
import MaestroSchedulerModel
import PostgresNIO
import SwiftProtobuf

/// One row of `scheduler.schedules`, decoded. `id` is the API's schedule id (column `name`);
/// `uuid` is the row's key, used in idempotency keys and as the jitter seed.
struct ScheduleRecord: Sendable {
  var uuid: UUID
  var tenant: String
  var id: String
  var displayName: String
  var description: String
  var spec: Maestro_Scheduler_V1_ScheduleSpec
  var target: Maestro_Scheduler_V1_ScheduleTarget
  var overlap: OverlapPolicy
  var catchupWindowMilliseconds: Int64
  var pauseAfterFailures: Int
  var paused: Bool
  var notes: String
  var pausedByFailures: Bool
  var nextFireAt: Date?
  var nextNominalAt: Date?
  var lastFireAt: Date?
  var consecutiveFailures: Int
  var revision: Int64
  var createdAt: Date
  var createdBy: String
  var updatedAt: Date
  var labels: [String: String]
  var totalFires: Int64
  var missedFires: Int64

  var jitterKey: String { self.uuid.uuidString.lowercased() }

  /// The compiled spec (stored specs were validated on write).
  func fireSpec() throws -> FireSpec {
    try ScheduleValidator.fireSpec(self.spec, field: "spec").get()
  }

  static let columns = """
    id, tenant, name, display_name, description, spec::text, time_zone, target::text, overlap_policy,
    (extract(epoch FROM catchup_window) * 1000)::bigint, coalesce(pause_on_failure_after, 0), paused, notes,
    paused_by_failures, next_fire_at, next_nominal_at, last_fire_at, consecutive_failures, version, created_at,
    coalesce(created_by, ''), updated_at, labels::text, total_fires, missed_fires
    """

  init(row: PostgresRow) throws {
    let r = row.makeRandomAccess()
    var options = JSONDecodingOptions()
    options.ignoreUnknownFields = true
    self.uuid = try r[0].decode(UUID.self)
    self.tenant = try r[1].decode(String.self)
    self.id = try r[2].decode(String.self)
    self.displayName = try r[3].decode(String.self)
    self.description = try r[4].decode(String.self)
    self.spec = try Maestro_Scheduler_V1_ScheduleSpec(jsonString: try r[5].decode(String.self), options: options)
    self.spec.timeZone = try r[6].decode(String.self)
    self.target = try Maestro_Scheduler_V1_ScheduleTarget(jsonString: try r[7].decode(String.self), options: options)
    self.overlap = OverlapPolicy(rawValue: try r[8].decode(String.self)) ?? .skip
    self.catchupWindowMilliseconds = try r[9].decode(Int64.self)
    self.pauseAfterFailures = Int(try r[10].decode(Int32.self))
    self.paused = try r[11].decode(Bool.self)
    self.notes = try r[12].decode(String.self)
    self.pausedByFailures = try r[13].decode(Bool.self)
    self.nextFireAt = try r[14].decode(Date?.self)
    self.nextNominalAt = try r[15].decode(Date?.self)
    self.lastFireAt = try r[16].decode(Date?.self)
    self.consecutiveFailures = Int(try r[17].decode(Int32.self))
    self.revision = try r[18].decode(Int64.self)
    self.createdAt = try r[19].decode(Date.self)
    self.createdBy = try r[20].decode(String.self)
    self.updatedAt = try r[21].decode(Date.self)
    let labels = try r[22].decode(String.self)
    self.labels = (try? JSONSerialization.jsonObject(with: Data(labels.utf8)) as? [String: String]) ?? [:]
    self.totalFires = try r[23].decode(Int64.self)
    self.missedFires = try r[24].decode(Int64.self)
  }

  init(uuid: UUID, tenant: String, validated: ScheduleValidator.Validated, createdBy: String, now: Date) {
    self.uuid = uuid
    self.tenant = tenant
    self.id = validated.id
    self.displayName = validated.displayName
    self.description = validated.description
    self.spec = validated.spec
    self.target = validated.target
    self.overlap = validated.overlap
    self.catchupWindowMilliseconds = validated.catchupWindowMilliseconds
    self.pauseAfterFailures = validated.pauseAfterFailures
    self.paused = validated.paused
    self.notes = validated.notes
    self.pausedByFailures = false
    self.consecutiveFailures = 0
    self.revision = 1
    self.createdAt = now
    self.createdBy = createdBy
    self.updatedAt = now
    self.labels = validated.labels
    self.totalFires = 0
    self.missedFires = 0
  }

  /// Sets the next nominal fire strictly after `instant` and its jittered due time.
  mutating func scheduleNext(after instant: Date) throws {
    let spec = try self.fireSpec()
    self.setNext(spec.nextFire(after: Int64(instant.timeIntervalSince1970.rounded(.down))), spec: spec)
  }

  mutating func setNext(_ nominal: Int64?, spec: FireSpec) {
    guard let nominal else {
      self.nextNominalAt = nil
      self.nextFireAt = nil
      return
    }
    self.nextNominalAt = Date(timeIntervalSince1970: Double(nominal))
    let jitter = Jitter.delay(scheduleKey: self.jitterKey, fireTime: nominal, jitterMilliseconds: spec.jitterMilliseconds)
    self.nextFireAt = Date(timeIntervalSince1970: Double(nominal) + Double(jitter) / 1000)
  }

  var labelsJSON: String {
    let data = (try? JSONSerialization.data(withJSONObject: self.labels, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
  }

  var specJSON: String { (try? self.spec.jsonString()) ?? "{}" }
  var targetJSON: String { (try? self.target.jsonString()) ?? "{}" }
}
