import Foundation
import MaestroWorkflowModel
import PostgresNIO

/// Reads a row's columns in order; jsonb columns are selected as `::text`.
struct RowReader {
  private let row: PostgresRandomAccessRow
  private var index = 0

  init(_ row: PostgresRow, offset: Int = 0) {
    self.row = row.makeRandomAccess()
    self.index = offset
  }

  mutating func next<Value: PostgresDecodable>(_: Value.Type = Value.self) throws -> Value {
    defer { self.index += 1 }
    return try self.row[self.index].decode(Value.self, context: .default)
  }

  mutating func json() throws -> JSONValue? {
    guard let text = try self.next(String?.self) else { return nil }
    return try JSONValue(jsonText: text)
  }
}

extension RunRecord {
  init(row: PostgresRow) throws {
    var reader = RowReader(row)
    self.tenant = try reader.next()
    self.id = try reader.next()
    self.workflowName = try reader.next()
    self.workflowVersion = try reader.next()
    self.status = RunStatus(rawValue: try reader.next(String.self)) ?? .failed
    self.input = try reader.json() ?? .object([:])
    self.output = try reader.json()
    self.error = try reader.json()
    self.idempotencyKey = try reader.next()
    self.parentRunID = try reader.next()
    self.parentStepID = try reader.next()
    self.startedBy = try reader.next()
    self.labels = try reader.json() ?? .object([:])
    self.createdAt = try reader.next()
    self.startedAt = try reader.next()
    self.finishedAt = try reader.next()
    self.deadline = try reader.next()
    self.slaDeadline = try reader.next()
    self.slaMet = try reader.next()
    self.lastEventSequence = try reader.next()
    self.runAttempt = try reader.next()
    self.parentStepAttempt = try reader.next()
  }
}

extension StepRecord {
  /// Reads ``columns`` starting at column `offset`.
  init(row: PostgresRow, offset: Int = 0) throws {
    var reader = RowReader(row, offset: offset)
    self.stepID = try reader.next()
    self.attempt = try reader.next()
    self.stepType = try reader.next()
    self.status = StepStatus(rawValue: try reader.next(String.self)) ?? .failed
    self.input = try reader.json()
    self.output = try reader.json()
    self.error = try reader.json().flatMap(StepFailure.init(json:))
    self.createdAt = try reader.next()
    self.startedAt = try reader.next()
    self.finishedAt = try reader.next()
    self.visibleAt = try reader.next()
    self.leaseOwner = try reader.next()
    self.foreachAttempt = try reader.next()
  }
}
