import Foundation
import MaestroAuthModel
import MaestroCore
public import MaestroProtos

extension AuthAPI {
  public func createTenant(_ request: Maestro_Auth_V1_CreateTenantRequest, call: CallContext) async throws -> Maestro_Auth_V1_CreateTenantResponse {
    let principal = try call.caller()
    guard principal.has(.admin) else { throw MaestroError.permissionDenied("only admin may create tenants") }
    let id = request.tenant.id.lowercased()
    guard TenantScope.isValidTenantID(id) else {
      throw MaestroError.invalidArgument(field: "tenant.id", "must match [a-z0-9][a-z0-9_-]{0,62}")
    }
    guard request.tenant.displayName.count <= 200 else { throw MaestroError.invalidArgument(field: "tenant.display_name", "must be at most 200 characters") }
    let tenant = try await self.database.withTransaction { connection in
      let tenant = try await self.identities.createTenant(id: id, displayName: request.tenant.displayName, on: connection)
      var entry = self.entry(.tenantCreated, tenant: id, call: call)
      entry.targetType = "tenant"
      entry.targetID = id
      try await self.audit.append(entry, on: connection)
      return tenant
    }
    var response = Maestro_Auth_V1_CreateTenantResponse()
    response.tenant = tenant
    return response
  }

  /// Non-admins may only read their own tenant; any other answers NOT_FOUND.
  public func getTenant(_ request: Maestro_Auth_V1_GetTenantRequest, call: CallContext) async throws -> Maestro_Auth_V1_GetTenantResponse {
    let (principal, scope) = try await self.scope(call, method: "GetTenant")
    let id = request.tenantID.isEmpty ? scope.tenant : request.tenantID.lowercased()
    guard principal.has(.admin) || id == principal.tenant, let tenant = try await self.identities.tenant(id) else {
      throw MaestroError.notFound("tenant '\(id)' not found")
    }
    var response = Maestro_Auth_V1_GetTenantResponse()
    response.tenant = tenant
    return response
  }

  /// Admin: every tenant; others: only their own.
  public func listTenants(_ request: Maestro_Auth_V1_ListTenantsRequest, call: CallContext) async throws -> Maestro_Auth_V1_ListTenantsResponse {
    let principal = try call.caller()
    let size = try self.pageSize(request.pageSize)
    let after = try self.cursor(request.pageToken, list: "tenants", count: 1)?.first
    var response = Maestro_Auth_V1_ListTenantsResponse()
    if principal.has(.admin) {
      let rows = try await self.identities.listTenants(pageSize: size, after: after)
      (response.tenants, response.nextPageToken) = self.page(rows, size: size, list: "tenants") { [$0.id] }
    } else if after == nil, let own = try await self.identities.tenant(principal.tenant) {
      response.tenants = [own]
    }
    return response
  }
}
