import MaestroAuth
import MaestroAuthModel
import MaestroCore
import Synchronization
import Testing

@Suite("Rate limits: token buckets per principal and tenant, in-flight limit")
struct RateLimitTests {
  @Test("a bucket allows its burst, then refills at its rate")
  func bucket() {
    var bucket = TokenBucket(rate: .init(perSecond: 2, burst: 3), now: 0)
    #expect(bucket.take(now: 0) == nil)
    #expect(bucket.take(now: 0) == nil)
    #expect(bucket.take(now: 0) == nil)
    #expect(bucket.take(now: 0) == .milliseconds(500))
    #expect(bucket.take(now: 0.25) == .milliseconds(250))
    #expect(bucket.take(now: 0.5) == nil)
    #expect(!bucket.isFull(now: 0.5))
    #expect(bucket.isFull(now: 2))
  }

  @Test("rates parse as RATE[:BURST]; per-role tables name the bad entry", arguments: [
    ("10", TokenBucket.Rate(perSecond: 10, burst: 20)), ("5:7", TokenBucket.Rate(perSecond: 5, burst: 7)), ("0.5:1", TokenBucket.Rate(perSecond: 0.5, burst: 1)),
  ])
  func parse(text: String, rate: TokenBucket.Rate) {
    #expect(TokenBucket.Rate.parse(text) == rate)
  }

  @Test("bad rates are refused")
  func badRates() throws {
    for text in ["", "x", "-1", "0", "3:0", "1:2:3"] { #expect(TokenBucket.Rate.parse(text) == nil, "\(text)") }
    let roles = try RateLimitPolicy.parseRoles("viewer=1:2,admin=50").get()
    #expect(roles == [.viewer: .init(perSecond: 1, burst: 2), .admin: .init(perSecond: 50, burst: 100)])
    guard case .failure(let error) = RateLimitPolicy.parseRoles("viewer=1,wizard=3") else {
      Issue.record("an unknown role was accepted")
      return
    }
    #expect(error.entry == "wizard=3")
  }

  @Test("the most generous of a principal's roles applies")
  func roleRates() {
    let policy = RateLimitPolicy(principal: .init(perSecond: 1, burst: 1), roles: [.viewer: .init(perSecond: 5, burst: 5), .admin: .init(perSecond: 50, burst: 50)])
    #expect(policy.rate(for: [.viewer, .admin]).perSecond == 50)
    #expect(policy.rate(for: [.analyst]).perSecond == 1)
  }

  final class ManualClock: Sendable {
    let now = Mutex(0.0)
    func advance(_ seconds: Double) { self.now.withLock { $0 += seconds } }
  }

  @Test("principal bucket, then tenant bucket, then in-flight: each refusal is distinct and recovers")
  func limiter() {
    let clock = ManualClock()
    let policy = RateLimitPolicy(principal: .init(perSecond: 1, burst: 2), roles: [:], tenant: .init(perSecond: 1, burst: 3), tenantMaxInFlight: 2)
    let limiter = RateLimiter(policy: policy, clock: { clock.now.withLock { $0 } })
    let alice = Principal(subject: "alice", tenant: "acme", roles: [.viewer])
    let bob = Principal(subject: "bob", tenant: "acme", roles: [.viewer])

    #expect(limiter.admit(alice) == nil)
    #expect(limiter.admit(alice) == nil)
    // Two in flight: bob passes his bucket and the tenant's, then meets the in-flight limit
    // (and gets both tokens back).
    #expect(limiter.admit(bob) == .tenantInFlight)
    limiter.release(tenant: "acme")
    limiter.release(tenant: "acme")
    #expect(limiter.inFlight(tenant: "acme") == 0)
    guard case .principalRate(let wait) = limiter.admit(alice) else {
      Issue.record("alice's third call in a second was admitted")
      return
    }
    #expect(wait == .seconds(1))
    // Bob has his own bucket but shares the tenant's (3 tokens, 2 spent by alice).
    #expect(limiter.admit(bob) == nil)
    limiter.release(tenant: "acme")
    guard case .tenantRate = limiter.admit(bob) else {
      Issue.record("the tenant bucket did not refuse")
      return
    }
    clock.advance(1)
    #expect(limiter.admit(bob) == nil)
    limiter.release(tenant: "acme")
    #expect(RateLimiter.Refusal.principalRate(retryAfter: .milliseconds(1)).retryAfterSeconds == 1)
    #expect(RateLimiter.Refusal.tenantRate(retryAfter: .milliseconds(2500)).retryAfterSeconds == 3)
  }
}
