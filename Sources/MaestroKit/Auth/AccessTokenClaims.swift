public import Foundation
public import JWTKit

/// The claims of a Maestro access token (RFC 9068 profile plus `tenant` and `roles`).
public struct AccessTokenClaims: JWTPayload, Equatable {
  public var issuer: IssuerClaim
  public var subject: SubjectClaim
  public var audience: AudienceClaim
  public var expiration: ExpirationClaim
  public var issuedAt: IssuedAtClaim
  public var notBefore: NotBeforeClaim?
  public var tokenID: IDClaim
  public var sessionID: String?
  public var tenant: String
  public var roles: [String]
  /// `user` or `service_account`.
  public var principalType: String?

  enum CodingKeys: String, CodingKey {
    case issuer = "iss"
    case subject = "sub"
    case audience = "aud"
    case expiration = "exp"
    case issuedAt = "iat"
    case notBefore = "nbf"
    case tokenID = "jti"
    case sessionID = "sid"
    case tenant
    case roles
    case principalType = "principal_type"
  }

  public init(
    issuer: String,
    subject: String,
    audience: [String],
    expiration: Date,
    issuedAt: Date,
    notBefore: Date? = nil,
    tokenID: String,
    sessionID: String? = nil,
    tenant: String,
    roles: [String],
    principalType: String? = nil
  ) {
    self.issuer = IssuerClaim(value: issuer)
    self.subject = SubjectClaim(value: subject)
    self.audience = AudienceClaim(value: audience)
    self.expiration = ExpirationClaim(value: expiration)
    self.issuedAt = IssuedAtClaim(value: issuedAt)
    self.notBefore = notBefore.map { NotBeforeClaim(value: $0) }
    self.tokenID = IDClaim(value: tokenID)
    self.sessionID = sessionID
    self.tenant = tenant
    self.roles = roles
    self.principalType = principalType
  }

  /// Signature-time checks are none: time, issuer and audience are checked by `TokenVerifier`
  /// with its configured leeway and expectations.
  public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
