public import MaestroCore

/// The gateway's request limits, per replica (N replicas admit up to N times these rates).
///
/// Every authenticated request takes a token from its principal's bucket and from its
/// tenant's bucket; either empty → RESOURCE_EXHAUSTED / 429 with `Retry-After`. A tenant may
/// have at most ``tenantMaxInFlight`` requests (streams included) in progress at once.
public struct RateLimitPolicy: Sendable, Hashable {
  /// The principal rate when none of its roles has one of its own.
  public var principal: TokenBucket.Rate
  /// Per-role principal rates; a principal with several roles gets the most generous.
  public var roles: [Role: TokenBucket.Rate]
  /// Each tenant's shared rate.
  public var tenant: TokenBucket.Rate
  /// Each tenant's concurrent requests (0: unlimited).
  public var tenantMaxInFlight: Int

  public init(
    principal: TokenBucket.Rate = TokenBucket.Rate(perSecond: 100, burst: 200),
    roles: [Role: TokenBucket.Rate] = [.platformOperator: TokenBucket.Rate(perSecond: 1000, burst: 2000)],
    tenant: TokenBucket.Rate = TokenBucket.Rate(perSecond: 1000, burst: 2000),
    tenantMaxInFlight: Int = 256
  ) {
    self.principal = principal
    self.roles = roles
    self.tenant = tenant
    self.tenantMaxInFlight = tenantMaxInFlight
  }

  /// The rate of a principal holding `roles`.
  public func rate(for roles: Set<Role>) -> TokenBucket.Rate {
    let own = roles.compactMap { self.roles[$0] }
    return own.max { $0.perSecond < $1.perSecond } ?? self.principal
  }

  /// Parses `role=RATE[:BURST],…`; nil names the bad entry.
  public static func parseRoles(_ text: String) -> Result<[Role: TokenBucket.Rate], ParseError> {
    var result: [Role: TokenBucket.Rate] = [:]
    for entry in text.split(separator: ",") where !entry.isEmpty {
      let parts = entry.split(separator: "=", maxSplits: 1)
      guard parts.count == 2, let role = Role(rawValue: String(parts[0])), let rate = TokenBucket.Rate.parse(String(parts[1])) else {
        return .failure(ParseError(entry: String(entry)))
      }
      result[role] = rate
    }
    return .success(result)
  }

  public struct ParseError: Error, Sendable { public var entry: String }
}
