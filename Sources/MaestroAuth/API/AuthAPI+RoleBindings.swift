import Foundation
import MaestroAuthModel
import MaestroCore
public import MaestroProtos

extension AuthAPI {
  public func createRoleBinding(_ request: Maestro_Auth_V1_CreateRoleBindingRequest, call: CallContext) async throws -> Maestro_Auth_V1_CreateRoleBindingResponse {
    let (principal, scope) = try await self.scope(call, method: "CreateRoleBinding")
    let input = request.roleBinding
    guard let role = Role(proto: input.role) else { throw MaestroError.invalidArgument(field: "role_binding.role", "must be one of the 8 roles") }
    try self.checkMayGrant([role], principal: principal)
    let subject = try StoreErrors.id(input.subjectID, kind: "subject")
    let (userID, accountID): (UUID?, UUID?) =
      switch input.subjectKind {
      case .user: (subject, nil)
      case .serviceAccount: (nil, subject)
      default: throw MaestroError.invalidArgument(field: "role_binding.subject_kind", "must be USER or SERVICE_ACCOUNT")
      }
    let binding = try await self.database.withTransaction { connection in
      let binding = try await self.identities.createRoleBinding(tenant: scope.tenant, userID: userID, serviceAccountID: accountID, role: role, by: principal.subject, on: connection)
      var entry = self.entry(.roleBindingCreated, tenant: scope.tenant, call: call)
      entry.targetType = "role_binding"
      entry.targetID = binding.id
      entry.details = ["subject_id": binding.subjectID, "role": role.rawValue]
      try await self.audit.append(entry, on: connection)
      return binding
    }
    var response = Maestro_Auth_V1_CreateRoleBindingResponse()
    response.roleBinding = binding
    return response
  }

  public func listRoleBindings(_ request: Maestro_Auth_V1_ListRoleBindingsRequest, call: CallContext) async throws -> Maestro_Auth_V1_ListRoleBindingsResponse {
    let (_, scope) = try await self.scope(call, method: "ListRoleBindings")
    let size = try self.pageSize(request.pageSize)
    let after = try self.cursor(request.pageToken, list: "role_bindings", count: 1)?.first.flatMap { Int64($0) }
    var subject: UUID?
    if !request.subjectID.isEmpty {
      guard let id = UUID(uuidString: request.subjectID) else {
        return Maestro_Auth_V1_ListRoleBindingsResponse()
      }
      subject = id
    }
    var role: Role?
    if request.role != .unspecified {
      guard let filter = Role(proto: request.role) else { throw MaestroError.invalidArgument(field: "role", "unknown role") }
      role = filter
    }
    let rows = try await self.identities.listRoleBindings(tenant: scope.tenant, subject: subject, role: role, pageSize: size, after: after)
    var response = Maestro_Auth_V1_ListRoleBindingsResponse()
    (response.roleBindings, response.nextPageToken) = self.page(rows, size: size, list: "role_bindings") { [$0.id] }
    return response
  }

  public func deleteRoleBinding(_ request: Maestro_Auth_V1_DeleteRoleBindingRequest, call: CallContext) async throws -> Maestro_Auth_V1_DeleteRoleBindingResponse {
    let (principal, scope) = try await self.scope(call, method: "DeleteRoleBinding")
    guard let id = Int64(request.roleBindingID) else { throw MaestroError.notFound("role binding '\(request.roleBindingID)' not found") }
    try await self.database.withTransaction { connection in
      guard let binding = try await self.identities.deleteRoleBinding(tenant: scope.tenant, id: id, on: connection) else {
        throw MaestroError.notFound("role binding '\(request.roleBindingID)' not found")
      }
      if let role = Role(proto: binding.role) { try self.checkMayGrant([role], principal: principal) }
      var entry = self.entry(.roleBindingDeleted, tenant: scope.tenant, call: call)
      entry.targetType = "role_binding"
      entry.targetID = binding.id
      entry.details = ["subject_id": binding.subjectID, "role": Role(proto: binding.role)?.rawValue ?? ""]
      try await self.audit.append(entry, on: connection)
    }
    return Maestro_Auth_V1_DeleteRoleBindingResponse()
  }
}
