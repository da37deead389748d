public import Foundation
public import MaestroCore

/// What a handler knows about the call besides its message: the verified caller, the tenant
/// it asked to act in, and where it came from. Built by the gRPC service and the REST router
/// alike, so both transports run exactly the same logic.
public struct CallContext: Sendable {
  /// The verified caller; nil for the public methods (token, JWKS, revoke).
  public var principal: Principal?
  /// The `x-maestro-tenant` header or metadata, if any.
  public var requestedTenant: String?
  public var clientAddress: String?
  public var userAgent: String?
  public var requestID: String?
  /// When the caller's access token expires (for WhoAmI).
  public var tokenExpiresAt: Date?

  public init(principal: Principal? = nil, requestedTenant: String? = nil, clientAddress: String? = nil, userAgent: String? = nil, requestID: String? = nil, tokenExpiresAt: Date? = nil) {
    self.principal = principal
    self.requestedTenant = requestedTenant
    self.clientAddress = clientAddress
    self.userAgent = userAgent
    self.requestID = requestID
    self.tokenExpiresAt = tokenExpiresAt
  }

  /// The principal, or UNAUTHENTICATED.
  func caller() throws(MaestroError) -> Principal {
    guard let principal = self.principal else { throw .unauthenticated("missing bearer token") }
    return principal
  }
}
