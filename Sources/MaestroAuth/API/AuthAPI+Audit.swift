import Foundation
import MaestroAuthModel
import MaestroCore
public import MaestroProtos

extension AuthAPI {
  /// Pages the acting tenant's audit log, newest first, by time range, types and actor.
  public func listAuditEvents(_ request: Maestro_Auth_V1_ListAuditEventsRequest, call: CallContext) async throws -> Maestro_Auth_V1_ListAuditEventsResponse {
    let (_, scope) = try await self.scope(call, method: "ListAuditEvents")
    let size = try self.pageSize(request.pageSize)
    var after: Int64?
    if let values = try self.cursor(request.pageToken, list: "audit", count: 1) {
      guard let id = Int64(values[0]) else { throw MaestroError.invalidArgument(field: "page_token", "is not a page token of this list") }
      after = id
    }
    var kinds: [String] = []
    for type in request.types {
      guard let kind = AuditEventKind(proto: type) else { throw MaestroError.invalidArgument(field: "types", "contains an unknown event type") }
      kinds.append(kind.rawValue)
    }
    let range = request.timeRange
    let filter = AuditStore.Filter(
      tenant: scope.tenant,
      start: range.hasStartTime ? range.startTime.date : nil,
      end: range.hasEndTime ? range.endTime.date : nil,
      kinds: kinds,
      actor: request.actorID.isEmpty ? nil : request.actorID
    )
    if let start = filter.start, let end = filter.end, end <= start {
      throw MaestroError.invalidArgument(field: "time_range", "end_time must be after start_time")
    }
    let (events, next) = try await self.audit.list(filter, pageSize: size, after: after)
    var response = Maestro_Auth_V1_ListAuditEventsResponse()
    response.events = events
    if let next { response.nextPageToken = PageCursor(list: "audit", values: [String(next)]).token }
    return response
  }
}
