import Foundation
import MaestroAuthModel
import MaestroCore
public import MaestroProtos

extension AuthAPI {
  /// Granting `admin` or `security-admin` needs admin; everything else needs only the
  /// role-binding (or user) permission the policy already checked.
  func checkMayGrant(_ roles: [Role], principal: Principal) throws(MaestroError) {
    for role in roles where (role == .admin || role == .securityAdmin) && !principal.has(.admin) {
      throw .permissionDenied("only admin may grant \(role.rawValue)")
    }
  }

  func roles(from protos: [Maestro_Auth_V1_Role], field: String) throws(MaestroError) -> [Role] {
    var roles: [Role] = []
    for proto in protos {
      guard let role = Role(proto: proto) else { throw .invalidArgument(field: field, "contains an unknown role") }
      roles.append(role)
    }
    return roles
  }

  public func createUser(_ request: Maestro_Auth_V1_CreateUserRequest, call: CallContext) async throws -> Maestro_Auth_V1_CreateUserResponse {
    let (principal, scope) = try await self.scope(call, method: "CreateUser")
    let username = request.user.username.lowercased()
    guard (1...128).contains(username.count), !username.contains(where: { $0.isWhitespace || $0.isNewline }) else {
      throw MaestroError.invalidArgument(field: "user.username", "must be 1–128 characters without spaces")
    }
    let roles = try self.roles(from: request.roles, field: "roles")
    try self.checkMayGrant(roles, principal: principal)
    var hash: PasswordHasher.Hash?
    if !request.password.isEmpty {
      if let violation = self.configuration.passwordPolicy.violation(password: request.password, username: username) {
        throw MaestroError.invalidArgument(field: "password", violation)
      }
      hash = try PasswordHasher(parameters: self.configuration.passwordPolicy.scrypt).hash(request.password)
    }
    let email = request.user.email.isEmpty ? nil : request.user.email
    let user = try await self.database.withTransaction { connection in
      let user = try await self.identities.createUser(
        tenant: scope.tenant, username: username, email: email, displayName: request.user.displayName,
        disabled: request.user.disabled, password: hash, on: connection)
      try await self.identities.bind(roles, tenant: scope.tenant, userID: user.id, by: principal.subject, on: connection)
      var entry = self.entry(.userCreated, tenant: scope.tenant, call: call)
      entry.targetType = "user"
      entry.targetID = user.id.uuidString.lowercased()
      entry.details = ["username": username, "roles": roles.map(\.rawValue).joined(separator: " ")]
      try await self.audit.append(entry, on: connection)
      return user
    }
    var response = Maestro_Auth_V1_CreateUserResponse()
    response.user = user.proto(roles: Set(roles))
    return response
  }

  public func getUser(_ request: Maestro_Auth_V1_GetUserRequest, call: CallContext) async throws -> Maestro_Auth_V1_GetUserResponse {
    let (_, scope) = try await self.scope(call, method: "GetUser")
    let id = try StoreErrors.id(request.userID, kind: "user")
    guard let user = try await self.identities.user(tenant: scope.tenant, id: id) else { throw MaestroError.notFound("user '\(request.userID)' not found") }
    var response = Maestro_Auth_V1_GetUserResponse()
    response.user = user.proto(roles: try await self.identities.roles(tenant: scope.tenant, userID: id))
    return response
  }

  public func listUsers(_ request: Maestro_Auth_V1_ListUsersRequest, call: CallContext) async throws -> Maestro_Auth_V1_ListUsersResponse {
    let (_, scope) = try await self.scope(call, method: "ListUsers")
    let size = try self.pageSize(request.pageSize)
    let after = try self.cursor(request.pageToken, list: "users", count: 1)?.first
    let rows = try await self.identities.listUsers(tenant: scope.tenant, prefix: request.usernamePrefix.lowercased(), pageSize: size, after: after)
    let (kept, next) = self.page(rows, size: size, list: "users") { [$0.username] }
    var response = Maestro_Auth_V1_ListUsersResponse()
    for user in kept {
      response.users.append(user.proto(roles: try await self.identities.roles(tenant: scope.tenant, userID: user.id)))
    }
    response.nextPageToken = next
    return response
  }

  public func updateUser(_ request: Maestro_Auth_V1_UpdateUserRequest, call: CallContext) async throws -> Maestro_Auth_V1_UpdateUserResponse {
    let (principal, scope) = try await self.scope(call, method: "UpdateUser")
    let id = try StoreErrors.id(request.user.id, kind: "user")
    let paths = request.updateMask.paths
    guard !paths.isEmpty else { throw MaestroError.invalidArgument(field: "update_mask", "must name at least one field") }
    for path in paths where !["email", "display_name", "disabled"].contains(path) {
      throw MaestroError.invalidArgument(field: "update_mask", "'\(path)' is not updatable (email, display_name, disabled)")
    }
    let email: String?? = paths.contains("email") ? .some(request.user.email.isEmpty ? nil : request.user.email) : .none
    let displayName = paths.contains("display_name") ? request.user.displayName : nil
    let disabled = paths.contains("disabled") ? request.user.disabled : nil
    let (user, revoked) = try await self.database.withTransaction { connection in
      guard let user = try await self.identities.updateUser(tenant: scope.tenant, id: id, email: email, displayName: displayName, disabled: disabled, on: connection) else {
        throw MaestroError.notFound("user '\(request.user.id)' not found")
      }
      var revoked: [UUID] = []
      if disabled == true {
        revoked = try await self.sessions.revokeAll(tenant: scope.tenant, userID: id, serviceAccountID: nil, except: nil, reason: "user_disabled", by: principal.subject, on: connection)
      }
      var entry = self.entry(.userUpdated, tenant: scope.tenant, call: call)
      entry.targetType = "user"
      entry.targetID = id.uuidString.lowercased()
      entry.details = ["fields": paths.joined(separator: ","), "revoked_sessions": String(revoked.count)]
      try await self.audit.append(entry, on: connection)
      return (user, revoked)
    }
    for sid in revoked { self.revocations.insert(sid.uuidString, until: self.clock.now() + self.configuration.sessionLifetime) }
    var response = Maestro_Auth_V1_UpdateUserResponse()
    response.user = user.proto(roles: try await self.identities.roles(tenant: scope.tenant, userID: id))
    return response
  }

  /// Revokes the user's sessions (so every replica refuses their tokens), then deletes them.
  public func deleteUser(_ request: Maestro_Auth_V1_DeleteUserRequest, call: CallContext) async throws -> Maestro_Auth_V1_DeleteUserResponse {
    let (principal, scope) = try await self.scope(call, method: "DeleteUser")
    let id = try StoreErrors.id(request.userID, kind: "user")
    let revoked = try await self.database.withTransaction { connection in
      let revoked = try await self.sessions.revokeAll(tenant: scope.tenant, userID: id, serviceAccountID: nil, except: nil, reason: "revoked_by_admin", by: principal.subject, on: connection)
      guard try await self.identities.deleteUser(tenant: scope.tenant, id: id, on: connection) else {
        throw MaestroError.notFound("user '\(request.userID)' not found")
      }
      var entry = self.entry(.userDeleted, tenant: scope.tenant, call: call)
      entry.targetType = "user"
      entry.targetID = id.uuidString.lowercased()
      try await self.audit.append(entry, on: connection)
      return revoked
    }
    for sid in revoked { self.revocations.insert(sid.uuidString, until: self.clock.now() + self.configuration.sessionLifetime) }
    return Maestro_Auth_V1_DeleteUserResponse()
  }

  public func setUserPassword(_ request: Maestro_Auth_V1_SetUserPasswordRequest, call: CallContext) async throws -> Maestro_Auth_V1_SetUserPasswordResponse {
    let (principal, scope) = try await self.scope(call, method: "SetUserPassword")
    let id = try StoreErrors.id(request.userID, kind: "user")
    guard let user = try await self.identities.user(tenant: scope.tenant, id: id) else { throw MaestroError.notFound("user '\(request.userID)' not found") }
    let isSelf = principal.subject == user.id.uuidString.lowercased() && !scope.isCrossTenant
    if isSelf {
      guard let stored = user.password, try PasswordHasher.verify(request.currentPassword, against: stored) else {
        throw MaestroError.invalidArgument(field: "current_password", "does not match")
      }
    }
    if let violation = self.configuration.passwordPolicy.violation(password: request.newPassword, username: user.username) {
      throw MaestroError.invalidArgument(field: "new_password", violation)
    }
    let hash = try PasswordHasher(parameters: self.configuration.passwordPolicy.scrypt).hash(request.newPassword)
    let current = principal.sessionID.flatMap(UUID.init(uuidString:))
    let revoked = try await self.database.withTransaction { connection in
      _ = try await self.identities.setPassword(tenant: scope.tenant, id: id, hash: hash, on: connection)
      var revoked: [UUID] = []
      if request.revokeSessions {
        revoked = try await self.sessions.revokeAll(tenant: scope.tenant, userID: id, serviceAccountID: nil, except: isSelf ? current : nil, reason: "password_changed", by: principal.subject, on: connection)
      }
      var entry = self.entry(.passwordChanged, tenant: scope.tenant, call: call)
      entry.targetType = "user"
      entry.targetID = id.uuidString.lowercased()
      entry.details = ["revoked_sessions": String(revoked.count)]
      try await self.audit.append(entry, on: connection)
      return revoked
    }
    for sid in revoked { self.revocations.insert(sid.uuidString, until: self.clock.now() + self.configuration.sessionLifetime) }
    return Maestro_Auth_V1_SetUserPasswordResponse()
  }
}
