public import GRPCCore
import MaestroCore
import MaestroKit
public import MaestroProtos

/// `maestro.auth.v1.AuthService` over gRPC: each method builds the ``CallContext`` from the
/// request metadata and peer, and calls the same ``AuthAPI`` method the REST router calls.
/// Authentication and the permission check already ran in the interceptors.
public struct AuthGRPCService: Maestro_Auth_V1_AuthService.ServiceProtocol {
  let api: AuthAPI

  public init(api: AuthAPI) {
    self.api = api
  }

  /// The token of an `authorization: Bearer …` header, if present.
  static func bearerToken(in metadata: Metadata) -> String? {
    guard let value = metadata[stringValues: "authorization"].first(where: { _ in true }) else { return nil }
    let prefix = "bearer "
    guard value.count > prefix.count, value.prefix(prefix.count).lowercased() == prefix else { return nil }
    let token = value.dropFirst(prefix.count).drop { $0 == " " }
    return token.isEmpty ? nil : String(token)
  }

  private func handle<Input: Sendable, Output: Sendable>(
    _ request: ServerRequest<Input>,
    _ context: ServerContext,
    _ body: (Input, CallContext) async throws -> Output
  ) async throws -> ServerResponse<Output> {
    let metadata = request.metadata
    let requestContext = RequestContext.current
    let call = CallContext(
      principal: requestContext?.principal,
      requestedTenant: metadata[stringValues: "x-maestro-tenant"].first(where: { _ in true }),
      clientAddress: context.remotePeer,
      userAgent: metadata[stringValues: "user-agent"].first(where: { _ in true }),
      requestID: requestContext?.requestID,
      tokenExpiresAt: Self.bearerToken(in: metadata).flatMap(SessionGuard.expiry(of:))
    )
    return ServerResponse(message: try await body(request.message, call))
  }

  public func token(
    request: ServerRequest<Maestro_Auth_V1_TokenRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_TokenResponse> {
    try await self.handle(request, context, self.api.token)
  }

  public func revokeToken(
    request: ServerRequest<Maestro_Auth_V1_RevokeTokenRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_RevokeTokenResponse> {
    try await self.handle(request, context, self.api.revokeToken)
  }

  public func getJWKS(
    request: ServerRequest<Maestro_Auth_V1_GetJWKSRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_GetJWKSResponse> {
    try await self.handle(request, context, self.api.getJWKS)
  }

  public func rotateSigningKeys(
    request: ServerRequest<Maestro_Auth_V1_RotateSigningKeysRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_RotateSigningKeysResponse> {
    try await self.handle(request, context, self.api.rotateSigningKeys)
  }

  public func listSigningKeys(
    request: ServerRequest<Maestro_Auth_V1_ListSigningKeysRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_ListSigningKeysResponse> {
    try await self.handle(request, context, self.api.listSigningKeys)
  }

  public func createTenant(
    request: ServerRequest<Maestro_Auth_V1_CreateTenantRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_CreateTenantResponse> {
    try await self.handle(request, context, self.api.createTenant)
  }

  public func getTenant(
    request: ServerRequest<Maestro_Auth_V1_GetTenantRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_GetTenantResponse> {
    try await self.handle(request, context, self.api.getTenant)
  }

  public func listTenants(
    request: ServerRequest<Maestro_Auth_V1_ListTenantsRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_ListTenantsResponse> {
    try await self.handle(request, context, self.api.listTenants)
  }

  public func createUser(
    request: ServerRequest<Maestro_Auth_V1_CreateUserRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_CreateUserResponse> {
    try await self.handle(request, context, self.api.createUser)
  }

  public func getUser(
    request: ServerRequest<Maestro_Auth_V1_GetUserRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_GetUserResponse> {
    try await self.handle(request, context, self.api.getUser)
  }

  public func listUsers(
    request: ServerRequest<Maestro_Auth_V1_ListUsersRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_ListUsersResponse> {
    try await self.handle(request, context, self.api.listUsers)
  }

  public func updateUser(
    request: ServerRequest<Maestro_Auth_V1_UpdateUserRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_UpdateUserResponse> {
    try await self.handle(request, context, self.api.updateUser)
  }

  public func deleteUser(
    request: ServerRequest<Maestro_Auth_V1_DeleteUserRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_DeleteUserResponse> {
    try await self.handle(request, context, self.api.deleteUser)
  }

  public func setUserPassword(
    request: ServerRequest<Maestro_Auth_V1_SetUserPasswordRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_SetUserPasswordResponse> {
    try await self.handle(request, context, self.api.setUserPassword)
  }

  public func createServiceAccount(
    request: ServerRequest<Maestro_Auth_V1_CreateServiceAccountRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_CreateServiceAccountResponse> {
    try await self.handle(request, context, self.api.createServiceAccount)
  }

  public func listServiceAccounts(
    request: ServerRequest<Maestro_Auth_V1_ListServiceAccountsRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_ListServiceAccountsResponse> {
    try await self.handle(request, context, self.api.listServiceAccounts)
  }

  public func deleteServiceAccount(
    request: ServerRequest<Maestro_Auth_V1_DeleteServiceAccountRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_DeleteServiceAccountResponse> {
    try await self.handle(request, context, self.api.deleteServiceAccount)
  }

  public func rotateServiceAccountSecret(
    request: ServerRequest<Maestro_Auth_V1_RotateServiceAccountSecretRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_RotateServiceAccountSecretResponse> {
    try await self.handle(request, context, self.api.rotateServiceAccountSecret)
  }

  public func createRoleBinding(
    request: ServerRequest<Maestro_Auth_V1_CreateRoleBindingRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_CreateRoleBindingResponse> {
    try await self.handle(request, context, self.api.createRoleBinding)
  }

  public func listRoleBindings(
    request: ServerRequest<Maestro_Auth_V1_ListRoleBindingsRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_ListRoleBindingsResponse> {
    try await self.handle(request, context, self.api.listRoleBindings)
  }

  public func deleteRoleBinding(
    request: ServerRequest<Maestro_Auth_V1_DeleteRoleBindingRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_DeleteRoleBindingResponse> {
    try await self.handle(request, context, self.api.deleteRoleBinding)
  }

  public func listSessions(
    request: ServerRequest<Maestro_Auth_V1_ListSessionsRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_ListSessionsResponse> {
    try await self.handle(request, context, self.api.listSessions)
  }

  public func revokeSession(
    request: ServerRequest<Maestro_Auth_V1_RevokeSessionRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_RevokeSessionResponse> {
    try await self.handle(request, context, self.api.revokeSession)
  }

  public func logout(
    request: ServerRequest<Maestro_Auth_V1_LogoutRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_LogoutResponse> {
    try await self.handle(request, context, self.api.logout)
  }

  public func whoAmI(
    request: ServerRequest<Maestro_Auth_V1_WhoAmIRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_WhoAmIResponse> {
    try await self.handle(request, context, self.api.whoAmI)
  }

  public func listAuditEvents(
    request: ServerRequest<Maestro_Auth_V1_ListAuditEventsRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Maestro_Auth_V1_ListAuditEventsResponse> {
    try await self.handle(request, context, self.api.listAuditEvents)
  }
}
