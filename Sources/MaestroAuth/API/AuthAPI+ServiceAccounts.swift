import Foundation
import MaestroAuthModel
import MaestroCore
public import MaestroProtos
import SwiftProtobuf

extension AuthAPI {
  public func createServiceAccount(_ request: Maestro_Auth_V1_CreateServiceAccountRequest, call: CallContext) async throws -> Maestro_Auth_V1_CreateServiceAccountResponse {
    let (principal, scope) = try await self.scope(call, method: "CreateServiceAccount")
    let name = request.serviceAccount.name
    guard (1...128).contains(name.count) else { throw MaestroError.invalidArgument(field: "service_account.name", "must be 1–128 characters") }
    let roles = try self.roles(from: request.roles, field: "roles")
    try self.checkMayGrant(roles, principal: principal)
    let (account, secret) = try await self.database.withTransaction { connection in
      let (account, secret) = try await self.identities.createServiceAccount(
        tenant: scope.tenant, name: name, description: request.serviceAccount.description_p, on: connection)
      try await self.identities.bind(roles, tenant: scope.tenant, serviceAccountID: account.id, by: principal.subject, on: connection)
      var entry = self.entry(.serviceAccountCreated, tenant: scope.tenant, call: call)
      entry.targetType = "service_account"
      entry.targetID = account.id.uuidString.lowercased()
      entry.details = ["name": name, "roles": roles.map(\.rawValue).joined(separator: " ")]
      try await self.audit.append(entry, on: connection)
      return (account, secret)
    }
    var response = Maestro_Auth_V1_CreateServiceAccountResponse()
    response.serviceAccount = account.proto(roles: Set(roles))
    response.clientSecret = secret
    return response
  }

  public func listServiceAccounts(_ request: Maestro_Auth_V1_ListServiceAccountsRequest, call: CallContext) async throws -> Maestro_Auth_V1_ListServiceAccountsResponse {
    let (_, scope) = try await self.scope(call, method: "ListServiceAccounts")
    let size = try self.pageSize(request.pageSize)
    let after = try self.cursor(request.pageToken, list: "service_accounts", count: 1)?.first
    let rows = try await self.identities.listServiceAccounts(tenant: scope.tenant, pageSize: size, after: after)
    let (kept, next) = self.page(rows, size: size, list: "service_accounts") { [$0.name] }
    var response = Maestro_Auth_V1_ListServiceAccountsResponse()
    for account in kept {
      response.serviceAccounts.append(account.proto(roles: try await self.identities.roles(tenant: scope.tenant, serviceAccountID: account.id)))
    }
    response.nextPageToken = next
    return response
  }

  public func deleteServiceAccount(_ request: Maestro_Auth_V1_DeleteServiceAccountRequest, call: CallContext) async throws -> Maestro_Auth_V1_DeleteServiceAccountResponse {
    let (principal, scope) = try await self.scope(call, method: "DeleteServiceAccount")
    let id = try StoreErrors.id(request.serviceAccountID, kind: "service account")
    let revoked = try await self.database.withTransaction { connection in
      let revoked = try await self.sessions.revokeAll(tenant: scope.tenant, userID: nil, serviceAccountID: id, except: nil, reason: "revoked_by_admin", by: principal.subject, on: connection)
      guard try await self.identities.deleteServiceAccount(tenant: scope.tenant, id: id, on: connection) else {
        throw MaestroError.notFound("service account '\(request.serviceAccountID)' not found")
      }
      var entry = self.entry(.serviceAccountDeleted, tenant: scope.tenant, call: call)
      entry.targetType = "service_account"
      entry.targetID = id.uuidString.lowercased()
      try await self.audit.append(entry, on: connection)
      return revoked
    }
    for sid in revoked { self.revocations.insert(sid.uuidString, until: self.clock.now() + self.configuration.accessTokenLifetime) }
    return Maestro_Auth_V1_DeleteServiceAccountResponse()
  }

  public func rotateServiceAccountSecret(_ request: Maestro_Auth_V1_RotateServiceAccountSecretRequest, call: CallContext) async throws -> Maestro_Auth_V1_RotateServiceAccountSecretResponse {
    let (_, scope) = try await self.scope(call, method: "RotateServiceAccountSecret")
    let id = try StoreErrors.id(request.serviceAccountID, kind: "service account")
    let grace = request.hasGracePeriod ? Duration.seconds(request.gracePeriod.seconds) : .zero
    guard grace >= .zero, grace <= .seconds(30 * 86_400) else {
      throw MaestroError.invalidArgument(field: "grace_period", "must be between 0 and 30 days")
    }
    let rotated = try await self.database.withTransaction { connection in
      guard let rotated = try await self.identities.rotateSecret(tenant: scope.tenant, id: id, grace: grace, on: connection) else {
        throw MaestroError.notFound("service account '\(request.serviceAccountID)' not found")
      }
      var entry = self.entry(.serviceAccountSecretRotated, tenant: scope.tenant, call: call)
      entry.targetType = "service_account"
      entry.targetID = id.uuidString.lowercased()
      entry.details = ["grace_seconds": String(grace.components.seconds)]
      try await self.audit.append(entry, on: connection)
      return rotated
    }
    var response = Maestro_Auth_V1_RotateServiceAccountSecretResponse()
    response.clientSecret = rotated.secret
    if let expires = rotated.previousExpiresAt { response.previousSecretExpiresAt = .init(date: expires) }
    return response
  }
}
