import Foundation
import MaestroAuth
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import PostgresNIO
import ServiceLifecycle
import Testing

@Suite("Sessions: limits, revocation across replicas, back-off (real Postgres)")
struct SessionTests {
  @Test("evict-oldest: the sixth login revokes the first session")
  func evictOldest() async throws {
    try await GatewayFixture.with { gateway in
      var sessions: [String] = []
      for _ in 0..<6 {
        gateway.clock.advance(by: .seconds(1))
        sessions.append(try #require(try await gateway.verify(try await gateway.password().accessToken).sessionID))
      }
      #expect(gateway.runtime.revocations.isRevoked(sessions[0]))
      #expect(!gateway.runtime.revocations.isRevoked(sessions[1]))
      #expect(try await gateway.scalar("SELECT count(*)::int FROM sessions WHERE revoked_at IS NULL AND user_id IS NOT NULL", as: Int.self) == 5)
      #expect(try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type = 'session.evicted'", as: Int.self) == 1)
    }
  }

  @Test("reject-new: a login over the limit is refused with 429")
  func rejectNew() async throws {
    try await GatewayFixture.with({
      $0.sessionLimit.maximumSessions = 2
      $0.sessionLimit.onLimit = .rejectNew
    }) { gateway in
      _ = try await gateway.password()
      _ = try await gateway.password()
      let error = await #expect(throws: OAuthError.self) { try await gateway.password() }
      #expect(error?.code == .tooManyRequests)
      #expect(error?.httpStatus == 429)
    }
  }

  @Test("a session revoked on one replica is refused by another within 1 s (LISTEN/NOTIFY)")
  func revocationAcrossReplicas() async throws {
    try await GatewayFixture.with { gateway in
      try await gateway.withReplica { replica in
        try await withThrowingTaskGroup(of: Void.self) { group in
          let listener = ServiceGroup(services: [replica.invalidationListener()], logger: .init(label: "t"))
          group.addTask { try await listener.run() }
          defer { group.cancelAll() }
          // Wait until the replica's listener is subscribed (it resynchronises its deny list on connect).
          let seed = try await gateway.password()
          let seedSID = try #require(try await gateway.verify(seed.accessToken).sessionID)
          let subscribed = try await eventually(within: .seconds(10)) {
            _ = try await gateway.api.logout(.init(), call: try await gateway.call(seed.accessToken))
            return replica.revocations.isRevoked(seedSID)
          }
          #expect(subscribed != nil)

          let token = try await gateway.password().accessToken
          let principal = try await replica.verifier.verify(token)
          let sid = try #require(principal.sessionID)
          let security = try await gateway.call(try await gateway.password().accessToken)
          let replicaGuard = SessionGuard(revocations: replica.revocations, keyRing: replica.keyRing)
          try replicaGuard.check(principal: principal, token: token)

          _ = try await gateway.api.revokeSession(.with { $0.sessionID = sid }, call: security)
          let elapsed = await eventually(within: .seconds(1)) { replica.revocations.isRevoked(sid) }
          #expect(elapsed != nil, "the replica did not learn of the revocation within 1 s")
          #expect(throws: MaestroError.self) { try replicaGuard.check(principal: principal, token: token) }
          await listener.triggerGracefulShutdown()
        }
      }
    }
  }

  @Test("logout revokes the caller's session; list shows it revoked; logout all revokes the rest")
  func logoutAndList() async throws {
    try await GatewayFixture.with { gateway in
      let a = try await gateway.password()
      let b = try await gateway.password()
      let callA = try await gateway.call(a.accessToken)
      let listed = try await gateway.api.listSessions(.init(), call: callA)
      #expect(listed.sessions.count == 2)
      let out = try await gateway.api.logout(.init(), call: callA)
      #expect(out.revokedSessions == 1)
      #expect(gateway.runtime.revocations.isRevoked(callA.principal!.sessionID!))
      let refresh = await #expect(throws: OAuthError.self) {
        try await gateway.api.token(.with {
          $0.grantType = "refresh_token"
          $0.refreshToken = a.refreshToken
        }, call: CallContext())
      }
      #expect(refresh?.code == .invalidGrant)
      let callB = try await gateway.call(b.accessToken)
      let withRevoked = try await gateway.api.listSessions(.with { $0.includeRevoked = true }, call: callB)
      #expect(withRevoked.sessions.contains { $0.revokeReason == "logout" })
      let all = try await gateway.api.logout(.with { $0.allSessions = true }, call: callB)
      #expect(all.revokedSessions == 1)
    }
  }

  @Test("maintenance deletes sessions a day after they expire, with their refresh tokens")
  func purgeExpired() async throws {
    try await GatewayFixture.with { gateway in
      let response = try await gateway.password()
      let sid = try #require(try await gateway.verify(response.accessToken).sessionID)
      let id = try #require(UUID(uuidString: sid))
      gateway.clock.advance(by: .seconds(12 * 3600 + 3600))
      #expect(try await gateway.runtime.purgeExpiredSessions() == 0)
      gateway.clock.advance(by: .seconds(86_400))
      #expect(try await gateway.runtime.purgeExpiredSessions() >= 1)
      #expect(try await gateway.scalar("SELECT count(*)::int FROM sessions WHERE sid = \(id)", as: Int.self) == 0)
      #expect(try await gateway.scalar("SELECT count(*)::int FROM refresh_tokens WHERE sid = \(id)", as: Int.self) == 0)
    }
  }

  @Test("RFC 7009 revocation of a refresh token revokes its session; unknown tokens succeed")
  func revokeToken() async throws {
    try await GatewayFixture.with { gateway in
      let response = try await gateway.password()
      let sid = try #require(try await gateway.verify(response.accessToken).sessionID)
      _ = try await gateway.api.revokeToken(.with { $0.token = response.refreshToken }, call: CallContext())
      #expect(gateway.runtime.revocations.isRevoked(sid))
      _ = try await gateway.api.revokeToken(.with { $0.token = "rt.unknown" }, call: CallContext())
    }
  }

  @Test("brute force: after 5 failures the user is locked, even for the right password, and it is audited")
  func backoff() async throws {
    try await GatewayFixture.with { gateway in
      for _ in 0..<6 {
        let error = await #expect(throws: OAuthError.self) { try await gateway.password("admin", "wrong password!!", address: "192.0.2.7") }
        #expect(error?.code == .invalidGrant)
      }
      let locked = await #expect(throws: OAuthError.self) { try await gateway.password(address: "198.51.100.1") }
      #expect(locked?.code == .tooManyRequests)
      #expect((locked?.retryAfter ?? 0) >= 1)
      #expect(try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type = 'login.throttled'", as: Int.self) == 1)
      #expect(try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type = 'login.failed'", as: Int.self) == 6)
      gateway.clock.advance(by: .seconds(2))
      _ = try await gateway.password(address: "198.51.100.1")
    }
  }

  @Test("brute force per client address: one address guessing many usernames is locked")
  func addressBackoff() async throws {
    try await GatewayFixture.with({ $0.addressBackoff = .init(freeFailures: 3, baseLock: .seconds(30), maximumLock: .seconds(60)) }) { gateway in
      for index in 0..<4 {
        _ = await #expect(throws: OAuthError.self) { try await gateway.password("user\(index)", "wrong password!!", address: "2001:db8::\(index + 1)") }
      }
      // Same /64, another username: locked.
      let locked = await #expect(throws: OAuthError.self) { try await gateway.password(address: "2001:db8::99") }
      #expect(locked?.code == .tooManyRequests)
      // Another address: fine.
      _ = try await gateway.password(address: "203.0.113.5")
    }
  }
}
