import Foundation
import GRPCCore
import MaestroCore
import MaestroKit
import MaestroProtos
import PostgresNIO
import SwiftProtobuf

extension MetricsGRPCService {
  // MARK: Alerts

  func listAlerts(request: Maestro_Metrics_V1_ListAlertsRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_ListAlertsResponse {
    let caller = try Self.caller()
    let size = try Self.pageSize(request.pageSize)
    var states: [String] = []
    for (index, state) in request.states.enumerated() {
      switch state {
      case .pending: states.append("pending")
      case .firing: states.append("firing")
      case .resolved: states.append("resolved")
      case .unspecified, .UNRECOGNIZED: throw MaestroError.invalidArgument(field: "states[\(index)]", "unknown state")
      }
    }
    if states.isEmpty { states = ["pending", "firing"] }
    let severity = request.severity == .unspecified ? "" : (SLODefinition.Severity(proto: request.severity)?.rawValue ?? "")
    let cursor = try Self.cursor(request.pageToken, list: "alerts", count: 2)
    let beforeTime = try cursor.map { values -> Date in
      guard let seconds = Double(values[0]) else { throw MaestroError.invalidArgument(field: "page_token", "is not a token returned by a previous page of this list") }
      return Date(timeIntervalSince1970: seconds)
    } ?? .distantFuture
    let beforeID = cursor.flatMap { UUID(uuidString: $0[1]) } ?? UUID(uuidString: "ffffffff-ffff-ffff-ffff-ffffffffffff")!
    let rows = try await self.engine.database.client.query(
      """
      SELECT \(unescaped: AlertQueries.columns), coalesce(s.name, ''), a.acknowledged_by, a.acknowledged_at, coalesce(a.observed->>'acknowledge_comment', ''),
             a.last_evaluated_at, greatest(a.pending_since, a.fired_at, a.resolved_at)
      FROM alerts a LEFT JOIN slos s ON s.tenant = a.tenant AND s.id = a.slo_id
      WHERE a.tenant = \(caller.tenant) AND a.state = ANY(\(states)) AND (\(request.sloName) = '' OR s.name = \(request.sloName))
        AND (\(severity) = '' OR a.severity = \(severity))
        AND (greatest(a.pending_since, a.fired_at, a.resolved_at), a.id) < (\(beforeTime), \(beforeID))
      ORDER BY greatest(a.pending_since, a.fired_at, a.resolved_at) DESC, a.id DESC LIMIT \(size + 1)
      """,
      logger: self.engine.logger
    ).collect()
    let receivers = try await self.engine.receivers.receivers(tenant: caller.tenant)
    var alerts: [(Maestro_Metrics_V1_Alert, Date)] = []
    for row in rows {
      alerts.append(try Self.alert(row, receivers: receivers))
    }
    var next = ""
    if alerts.count > size {
      alerts.removeLast()
      let last = alerts.last!
      next = PageCursor(list: "alerts", values: [String(last.1.timeIntervalSince1970), last.0.id]).token
    }
    return .with {
      $0.alerts = alerts.map(\.0)
      $0.nextPageToken = next
    }
  }

  /// Decodes `AlertQueries.columns` plus the extra list columns into the proto.
  static func alert(_ row: PostgresRow, receivers: [ReceiverRecord]) throws -> (Maestro_Metrics_V1_Alert, Date) {
    let base = try AlertQueries.decode(row)
    let cells = Array(row)
    let extra = cells.count - 6
    let sloName = try cells[extra].decode(String.self)
    let ackBy = try cells[extra + 1].decode(String?.self)
    let ackAt = try cells[extra + 2].decode(Date?.self)
    let comment = try cells[extra + 3].decode(String.self)
    let evaluated = try cells[extra + 4].decode(Date.self)
    let changed = try cells[extra + 5].decode(Date.self)
    let byID = Dictionary(receivers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    let proto = Maestro_Metrics_V1_Alert.with {
      $0.id = base.id.uuidString.lowercased()
      $0.fingerprint = base.fingerprint
      $0.sloName = sloName
      $0.windowName = base.rule
      $0.severity = base.severity.proto
      switch base.state {
      case .pending: $0.state = .pending
      case .firing: $0.state = .firing
      case .resolved: $0.state = .resolved
      }
      $0.labels = base.labels
      $0.annotations = base.annotations
      $0.burnRate = base.burnRate
      $0.pendingSince = .init(date: base.pendingSince)
      if let fired = base.firedAt { $0.firingSince = .init(date: fired) }
      if let resolved = base.resolvedAt { $0.resolvedAt = .init(date: resolved) }
      $0.lastEvaluatedAt = .init(date: evaluated)
      $0.acknowledged = base.acknowledged
      $0.acknowledgedBy = ackBy ?? ""
      if let ackAt { $0.acknowledgedAt = .init(date: ackAt) }
      $0.acknowledgeComment = comment
      if let silence = base.silenceID { $0.silencedBy = [silence.uuidString.lowercased()] }
      $0.inhibited = base.suppressed == "inhibited"
      $0.currentReceiver = AlertEvaluator.currentReceiver(base, receivers: receivers, byID: byID)?.name ?? ""
      $0.escalationLevel = Int32(base.escalationLevel)
    }
    return (proto, changed)
  }

  func acknowledgeAlert(request: Maestro_Metrics_V1_AcknowledgeAlertRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_AcknowledgeAlertResponse {
    let caller = try Self.caller()
    guard let id = UUID(uuidString: request.alertID) else { throw MaestroError.invalidArgument(field: "alert_id", "must be an alert id (a UUID)") }
    guard request.comment.count <= 1024 else { throw MaestroError.invalidArgument(field: "comment", "at most 1024 characters") }
    let updated = try await self.engine.database.client.query(
      """
      UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, now()), acknowledged_by = coalesce(acknowledged_by, \(caller.subject)),
        observed = observed || jsonb_build_object('acknowledge_comment', \(request.comment)::text)
      WHERE tenant = \(caller.tenant) AND id = \(id) RETURNING state
      """,
      logger: self.engine.logger
    ).collect()
    guard !updated.isEmpty else { throw MaestroError.notFound("alert '\(request.alertID)' not found") }
    let rows = try await self.engine.database.client.query(
      """
      SELECT \(unescaped: AlertQueries.columns), coalesce(s.name, ''), a.acknowledged_by, a.acknowledged_at, coalesce(a.observed->>'acknowledge_comment', ''),
             a.last_evaluated_at, greatest(a.pending_since, a.fired_at, a.resolved_at)
      FROM alerts a LEFT JOIN slos s ON s.tenant = a.tenant AND s.id = a.slo_id WHERE a.tenant = \(caller.tenant) AND a.id = \(id)
      """,
      logger: self.engine.logger
    ).collect()
    let receivers = try await self.engine.receivers.receivers(tenant: caller.tenant)
    let alert = try Self.alert(rows[0], receivers: receivers).0
    return .with { $0.alert = alert }
  }

  // MARK: Silences

  static func matchers(_ protos: [Maestro_Metrics_V1_LabelMatcher], field: String) throws -> [LabelMatcher] {
    try protos.enumerated().map { index, matcher in
      let op: LabelMatcher.Operator
      switch matcher.matchOperator {
      case .unspecified, .equal: op = .equal
      case .notEqual: op = .notEqual
      case .regex: op = .regex
      case .notRegex: op = .notRegex
      case .UNRECOGNIZED: throw MaestroError.invalidArgument(field: "\(field)[\(index)].match_operator", "unknown operator")
      }
      guard matcher.value.count <= 1024 else { throw MaestroError.invalidArgument(field: "\(field)[\(index)].value", "at most 1024 characters") }
      do { return try LabelMatcher(name: matcher.name, op: op, value: matcher.value) } catch let error as MatcherError {
        throw MaestroError.invalidArgument(field: "\(field)[\(index)]", error.message)
      }
    }
  }

  static func matcherProtos(_ matchers: [LabelMatcher]) -> [Maestro_Metrics_V1_LabelMatcher] {
    matchers.map { matcher in
      .with {
        $0.name = matcher.name
        $0.value = matcher.value
        switch matcher.op {
        case .equal: $0.matchOperator = .equal
        case .notEqual: $0.matchOperator = .notEqual
        case .regex: $0.matchOperator = .regex
        case .notRegex: $0.matchOperator = .notRegex
        }
      }
    }
  }

  func silenceProto(_ silence: SilenceRecord, tenant: String, now: Date) -> Maestro_Metrics_V1_Silence {
    .with {
      $0.id = silence.id.uuidString.lowercased()
      $0.matchers = Self.matcherProtos(silence.matchers)
      $0.startsAt = .init(date: silence.startsAt)
      $0.endsAt = .init(date: silence.endsAt)
      $0.comment = silence.comment
      $0.active = silence.isActive(at: now)
      $0.meta = .with {
        $0.tenant = tenant
        $0.createdAt = .init(date: silence.createdAt)
        $0.createdBy = silence.createdBy
      }
    }
  }

  func createSilence(request: Maestro_Metrics_V1_CreateSilenceRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_CreateSilenceResponse {
    let caller = try Self.caller()
    let silence = request.silence
    guard !silence.matchers.isEmpty, silence.matchers.count <= 32 else { throw MaestroError.invalidArgument(field: "silence.matchers", "between 1 and 32 matchers") }
    let matchers = try Self.matchers(silence.matchers, field: "silence.matchers")
    let now = self.now()
    let starts = silence.hasStartsAt ? silence.startsAt.date : now
    guard silence.hasEndsAt else { throw MaestroError.invalidArgument(field: "silence.ends_at", "is required") }
    let ends = silence.endsAt.date
    guard ends > starts, ends > now else { throw MaestroError.invalidArgument(field: "silence.ends_at", "must be after starts_at and in the future") }
    guard !silence.comment.trimmingCharacters(in: .whitespaces).isEmpty, silence.comment.count <= 1024 else {
      throw MaestroError.invalidArgument(field: "silence.comment", "is required (at most 1024 characters)")
    }
    let created = try await self.engine.receivers.createSilence(
      tenant: caller.tenant, matchers: matchers, startsAt: starts, endsAt: ends, comment: silence.comment, createdBy: caller.subject)
    return .with { $0.silence = self.silenceProto(created, tenant: caller.tenant, now: now) }
  }

  func listSilences(request: Maestro_Metrics_V1_ListSilencesRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_ListSilencesResponse {
    let caller = try Self.caller()
    let size = try Self.pageSize(request.pageSize)
    let cursor = try Self.cursor(request.pageToken, list: "silences", count: 2)
    var before: (Date, UUID)?
    if let cursor {
      guard let seconds = Double(cursor[0]), let id = UUID(uuidString: cursor[1]) else {
        throw MaestroError.invalidArgument(field: "page_token", "is not a token returned by a previous page of this list")
      }
      before = (Date(timeIntervalSince1970: seconds), id)
    }
    let now = self.now()
    var items = try await self.engine.receivers.silences(tenant: caller.tenant, now: now, includeExpired: request.includeExpired, before: before, limit: size + 1)
    var next = ""
    if items.count > size {
      items.removeLast()
      next = PageCursor(list: "silences", values: [String(items.last!.createdAt.timeIntervalSince1970), items.last!.id.uuidString]).token
    }
    return .with {
      $0.silences = items.map { self.silenceProto($0, tenant: caller.tenant, now: now) }
      $0.nextPageToken = next
    }
  }

  func deleteSilence(request: Maestro_Metrics_V1_DeleteSilenceRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_DeleteSilenceResponse {
    let caller = try Self.caller()
    guard let id = UUID(uuidString: request.silenceID) else { throw MaestroError.invalidArgument(field: "silence_id", "must be a silence id (a UUID)") }
    try await self.engine.receivers.expireSilence(tenant: caller.tenant, id: id, now: self.now())
    return .init()
  }

  // MARK: Receivers

  func receiverProto(_ receiver: ReceiverRecord, all: [ReceiverRecord]) -> Maestro_Metrics_V1_Receiver {
    .with {
      $0.name = receiver.name
      switch receiver.type {
      case .webhook: $0.type = .webhook
      case .slack: $0.type = .slack
      case .pagerduty: $0.type = .pagerduty
      }
      $0.url = receiver.url
      $0.secretName = receiver.secretRef ?? ""
      $0.severities = receiver.severities.map(\.proto)
      $0.matchers = Self.matcherProtos(receiver.matchers)
      $0.sendResolved = receiver.sendResolved
      if let after = receiver.escalateAfter { $0.escalateAfter = .init(seconds: Int64(after.seconds)) }
      $0.escalateTo = receiver.nextReceiverID.flatMap { id in all.first { $0.id == id }?.name } ?? ""
      $0.meta = .with {
        $0.tenant = receiver.tenant
        $0.createdAt = .init(date: receiver.createdAt)
      }
    }
  }

  func createReceiver(request: Maestro_Metrics_V1_CreateReceiverRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_CreateReceiverResponse {
    let caller = try Self.caller()
    let receiver = request.receiver
    guard SLODefinition.isValidName(receiver.name) else {
      throw MaestroError.invalidArgument(field: "receiver.name", "must match [a-z0-9][a-z0-9._-]{0,127}")
    }
    let type: NotificationRenderer.ReceiverType
    switch receiver.type {
    case .webhook: type = .webhook
    case .slack: type = .slack
    case .pagerduty: type = .pagerduty
    case .unspecified, .UNRECOGNIZED: throw MaestroError.invalidArgument(field: "receiver.type", "is required (WEBHOOK, SLACK or PAGERDUTY)")
    }
    guard let url = URL(string: receiver.url), ["http", "https"].contains(url.scheme ?? ""), url.host != nil, receiver.url.count <= 2048 else {
      throw MaestroError.invalidArgument(field: "receiver.url", "must be an http(s) URL")
    }
    guard receiver.secretName.isEmpty || (try? /^[A-Za-z0-9._-]{1,128}$/.wholeMatch(in: receiver.secretName)) != nil else {
      throw MaestroError.invalidArgument(field: "receiver.secret_name", "must match [A-Za-z0-9._-]{1,128}")
    }
    guard type != .pagerduty || !receiver.secretName.isEmpty else {
      throw MaestroError.invalidArgument(field: "receiver.secret_name", "is required for PagerDuty (the routing key's secret)")
    }
    var severities: [SLODefinition.Severity] = []
    for (index, severity) in receiver.severities.enumerated() {
      guard let value = SLODefinition.Severity(proto: severity) else { throw MaestroError.invalidArgument(field: "receiver.severities[\(index)]", "unknown severity") }
      severities.append(value)
    }
    guard receiver.matchers.count <= 32 else { throw MaestroError.invalidArgument(field: "receiver.matchers", "at most 32 matchers") }
    let matchers = try Self.matchers(receiver.matchers, field: "receiver.matchers")
    var escalateAfter: Duration?
    if receiver.hasEscalateAfter {
      guard receiver.escalateAfter.seconds > 0 || receiver.escalateAfter.nanos > 0 else {
        throw MaestroError.invalidArgument(field: "receiver.escalate_after", "must be positive")
      }
      escalateAfter = .milliseconds(Int64(receiver.escalateAfter.milliseconds))
      guard !receiver.escalateTo.isEmpty else { throw MaestroError.invalidArgument(field: "receiver.escalate_to", "is required with escalate_after") }
    } else if !receiver.escalateTo.isEmpty {
      throw MaestroError.invalidArgument(field: "receiver.escalate_after", "is required with escalate_to")
    }
    let created = try await self.engine.receivers.createReceiver(
      tenant: caller.tenant, name: receiver.name, type: type, url: receiver.url, secretRef: receiver.secretName.isEmpty ? nil : receiver.secretName,
      severities: severities, matchers: matchers, sendResolved: receiver.sendResolved, escalateAfter: escalateAfter, escalateTo: receiver.escalateTo)
    let all = try await self.engine.receivers.receivers(tenant: caller.tenant)
    return .with { $0.receiver = self.receiverProto(created, all: all) }
  }

  func listReceivers(request: Maestro_Metrics_V1_ListReceiversRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_ListReceiversResponse {
    let caller = try Self.caller()
    let size = try Self.pageSize(request.pageSize)
    let after = try Self.cursor(request.pageToken, list: "receivers", count: 1)?[0] ?? ""
    let all = try await self.engine.receivers.receivers(tenant: caller.tenant)
    var items = try await self.engine.receivers.receivers(tenant: caller.tenant, after: after, limit: size + 1)
    var next = ""
    if items.count > size {
      items.removeLast()
      next = PageCursor(list: "receivers", values: [items.last!.name]).token
    }
    return .with {
      $0.receivers = items.map { self.receiverProto($0, all: all) }
      $0.nextPageToken = next
    }
  }

  func deleteReceiver(request: Maestro_Metrics_V1_DeleteReceiverRequest, context: ServerContext) async throws -> Maestro_Metrics_V1_DeleteReceiverResponse {
    let caller = try Self.caller()
    guard !request.name.isEmpty else { throw MaestroError.invalidArgument(field: "name", "is required") }
    try await self.engine.receivers.deleteReceiver(tenant: caller.tenant, name: request.name)
    return .init()
  }
}
