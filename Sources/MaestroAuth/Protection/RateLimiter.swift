public import MaestroAuthModel
public import MaestroCore
import Synchronization

/// The per-replica limiter: token buckets per principal and per tenant, and a per-tenant
/// count of requests in flight. Bounded: when more than ``maximumKeys`` buckets exist, full
/// ones (idle principals) are forgotten.
public final class RateLimiter: Sendable {
  /// Why a request was refused.
  public enum Refusal: Sendable, Equatable {
    case principalRate(retryAfter: Duration)
    case tenantRate(retryAfter: Duration)
    case tenantInFlight
  }

  private struct State {
    var principals: [String: TokenBucket] = [:]
    var tenants: [String: TokenBucket] = [:]
    var inFlight: [String: Int] = [:]
  }

  public let policy: RateLimitPolicy
  private let state = Mutex(State())
  private let clock: @Sendable () -> Double
  let maximumKeys: Int

  public init(policy: RateLimitPolicy, maximumKeys: Int = 100_000, clock: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds) {
    self.policy = policy
    self.maximumKeys = maximumKeys
    self.clock = clock
  }

  private static let origin = ContinuousClock.now

  /// Seconds on the monotonic clock since the first use.
  public static let monotonicSeconds: @Sendable () -> Double = {
    let elapsed = ContinuousClock.now - RateLimiter.origin
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
  }

  /// Admits one request of `principal`: takes a token from both buckets and an in-flight slot
  /// (release it with ``release(tenant:)``), or says why not.
  public func admit(_ principal: Principal) -> Refusal? {
    let now = self.clock()
    let policy = self.policy
    return self.state.withLock { state -> Refusal? in
      let principalKey = principal.tenant + "\u{0}" + principal.subject
      let principalRate = policy.rate(for: principal.roles)
      var bucket = state.principals[principalKey] ?? TokenBucket(rate: principalRate, now: now)
      bucket.update(rate: principalRate, now: now)
      if let wait = bucket.take(now: now) {
        state.principals[principalKey] = bucket
        return .principalRate(retryAfter: wait)
      }
      var tenantBucket = state.tenants[principal.tenant] ?? TokenBucket(rate: policy.tenant, now: now)
      tenantBucket.update(rate: policy.tenant, now: now)
      if let wait = tenantBucket.take(now: now) {
        bucket.giveBack()
        state.principals[principalKey] = bucket
        state.tenants[principal.tenant] = tenantBucket
        return .tenantRate(retryAfter: wait)
      }
      let inFlight = state.inFlight[principal.tenant, default: 0]
      if policy.tenantMaxInFlight > 0, inFlight >= policy.tenantMaxInFlight {
        bucket.giveBack()
        tenantBucket.giveBack()
        state.principals[principalKey] = bucket
        state.tenants[principal.tenant] = tenantBucket
        return .tenantInFlight
      }
      state.inFlight[principal.tenant] = inFlight + 1
      state.principals[principalKey] = bucket
      state.tenants[principal.tenant] = tenantBucket
      if state.principals.count > self.maximumKeys {
        state.principals = state.principals.filter { !$0.value.isFull(now: now) }
      }
      if state.tenants.count > self.maximumKeys {
        state.tenants = state.tenants.filter { !$0.value.isFull(now: now) }
      }
      return nil
    }
  }

  /// Ends a request admitted by ``admit(_:)``.
  public func release(tenant: String) {
    self.state.withLock { state in
      let remaining = state.inFlight[tenant, default: 1] - 1
      state.inFlight[tenant] = remaining > 0 ? remaining : nil
    }
  }

  /// Requests in flight for `tenant` (for tests and metrics).
  public func inFlight(tenant: String) -> Int {
    self.state.withLock { $0.inFlight[tenant, default: 0] }
  }
}

extension RateLimiter.Refusal {
  /// The error the caller sees; `Retry-After` is in whole seconds, at least 1.
  public var error: MaestroError {
    switch self {
    case .principalRate: MaestroError(.resourceExhausted, "rate limit exceeded for this principal")
    case .tenantRate: MaestroError(.resourceExhausted, "rate limit exceeded for this tenant")
    case .tenantInFlight: MaestroError(.resourceExhausted, "too many requests in progress for this tenant")
    }
  }

  public var retryAfterSeconds: Int {
    switch self {
    case .principalRate(let wait), .tenantRate(let wait):
      let seconds = wait.components.seconds + (wait.components.attoseconds > 0 ? 1 : 0)
      return Int(max(1, seconds))
    case .tenantInFlight: return 1
    }
  }
}
