import Foundation
import MaestroAuthModel
import MaestroCore
public import MaestroProtos

extension AuthAPI {
  public func getJWKS(_ request: Maestro_Auth_V1_GetJWKSRequest, call: CallContext) async throws -> Maestro_Auth_V1_GetJWKSResponse {
    let now = self.clock.now()
    var response = Maestro_Auth_V1_GetJWKSResponse()
    response.keys = self.keyRing.records.filter { $0.isPublished(at: now) }.map(\.jwk)
    return response
  }

  /// Scheduled mode promotes the next key now; emergency mode revokes `compromised_kid` and
  /// signs with a fresh key at once. Either way every replica reloads through NOTIFY.
  public func rotateSigningKeys(_ request: Maestro_Auth_V1_RotateSigningKeysRequest, call: CallContext) async throws -> Maestro_Auth_V1_RotateSigningKeysResponse {
    let principal = try call.caller()
    let schedule = self.configuration.keySchedule
    let now = self.clock.now()
    var response = Maestro_Auth_V1_RotateSigningKeysResponse()
    var entry = self.entry(.keyRotated, tenant: principal.tenant, call: call)
    entry.details["reason"] = String(request.reason.prefix(500))
    switch request.mode {
    case .scheduled:
      _ = try await self.keys.rotate(plan: { schedule.planManualRotation(keys: $0, now: now) })
      entry.details["mode"] = "scheduled"
    case .emergency:
      guard !request.compromisedKid.isEmpty else {
        throw MaestroError.invalidArgument(field: "compromised_kid", "is required for an emergency rotation")
      }
      guard principal.has(.securityAdmin) || principal.has(.admin) else {
        throw MaestroError.permissionDenied("emergency rotation needs security-admin")
      }
      let kid = request.compromisedKid
      guard try await self.keys.rotate(plan: { schedule.planEmergency(keys: $0, compromised: kid, now: now) }) != nil else {
        throw MaestroError.notFound("signing key '\(kid)' not found")
      }
      response.revokedKids = [kid]
      entry.kind = .keyEmergencyRotated
      entry.details["mode"] = "emergency"
      entry.targetType = "signing_key"
      entry.targetID = kid
    case .unspecified, .UNRECOGNIZED:
      throw MaestroError.invalidArgument(field: "mode", "must be ROTATION_MODE_SCHEDULED or ROTATION_MODE_EMERGENCY")
    }
    try await self.keyRing.reload(from: self.keys, now: self.clock.now())
    guard let active = self.keyRing.records.first(where: { $0.state == .active }) else { throw MaestroError.internal() }
    response.activeKey = active.proto
    if entry.targetID == nil {
      entry.targetType = "signing_key"
      entry.targetID = active.kid
    }
    try await self.audit.append(entry)
    return response
  }

  public func listSigningKeys(_ request: Maestro_Auth_V1_ListSigningKeysRequest, call: CallContext) async throws -> Maestro_Auth_V1_ListSigningKeysResponse {
    let size = try self.pageSize(request.pageSize)
    let after = try self.cursor(request.pageToken, list: "keys", count: 1)?.first
    try await self.keyRing.reload(from: self.keys, now: self.clock.now())
    let now = self.clock.now()
    var records = self.keyRing.records.filter { request.includeRemoved || $0.isPublished(at: now) }
    if let after, let index = records.firstIndex(where: { $0.kid == after }) { records = Array(records.dropFirst(index + 1)) }
    let (kept, next) = self.page(records, size: size, list: "keys") { [$0.kid] }
    var response = Maestro_Auth_V1_ListSigningKeysResponse()
    response.keys = kept.map(\.proto)
    response.nextPageToken = next
    return response
  }
}
