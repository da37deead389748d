import Foundation
import Logging
import MaestroAuth
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import Testing

@Suite("Signing keys: storage, scheduled and emergency rotation (real Postgres, test clock)")
struct KeyRotationTests {
  static func kid(_ token: String) -> String? { Base64URLTestDecoder.json(token, part: 0)?["kid"] as? String }

  static func jwksKids(_ gateway: GatewayFixture) async throws -> Set<String> {
    let jwks = try await gateway.runtime.keyRing.fetchJWKS()
    let object = try JSONSerialization.jsonObject(with: Data(jwks.utf8)) as? [String: Any]
    return Set((object?["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String })
  }

  @Test("private keys are encrypted at rest; another master key cannot use them")
  func encryptedAtRest() async throws {
    try await GatewayFixture.with { gateway in
      let ciphertext = try #require(try await gateway.scalar("SELECT private_key_ciphertext FROM signing_keys WHERE state = 'active'", as: Data.self))
      #expect(!String(decoding: ciphertext, as: UTF8.self).contains("PRIVATE KEY"))
      var other = gateway.runtime.configuration
      other.masterKey = .random()
      let replica = GatewayRuntime(configuration: other, database: gateway.database, logger: Logger(label: "t"), clock: gateway.clock)
      let error = await #expect(throws: MaestroError.self) { try await replica.reloadKeys() }
      #expect(error?.code == .failedPrecondition)
    }
  }

  @Test("the next key is published before it signs; the old key verifies through its window, then is purged")
  func scheduledRotation() async throws {
    try await GatewayFixture.with({ $0.accessTokenLifetime = .seconds(2 * 86_400) }) { gateway in
      let keys = try await gateway.api.listSigningKeys(.init(), call: try await gateway.call(try await gateway.password().accessToken))
      let active = try #require(keys.keys.first { $0.state == .active })
      let next = try #require(keys.keys.first { $0.state == .next })
      #expect(try await Self.jwksKids(gateway) == [active.kid, next.kid])

      let old = try await gateway.password().accessToken
      #expect(Self.kid(old) == active.kid)

      gateway.clock.advance(by: .seconds(86_400 + 1))
      #expect(try await gateway.runtime.rotateIfDue())
      let rotated = try await gateway.password().accessToken
      #expect(Self.kid(rotated) == next.kid)
      // The old token still verifies: its key is retired, not gone.
      #expect(try await gateway.verify(old).tenant == "default")
      #expect(try await Self.jwksKids(gateway).contains(active.kid))

      gateway.clock.advance(by: .seconds(7 * 86_400))
      #expect(try await gateway.runtime.rotateIfDue())
      #expect(!(try await Self.jwksKids(gateway).contains(active.kid)))
      #expect(try await gateway.scalar("SELECT count(*)::int FROM signing_keys WHERE kid = \(active.kid)", as: Int.self) == 0)
      #expect(try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type = 'key.purged'", as: Int.self) == 1)
      let error = await #expect(throws: MaestroError.self) { try await gateway.verify(old) }
      #expect(error?.code == .unauthenticated)
    }
  }

  @Test("emergency rotation: a new key signs at once, the kid leaves the JWKS and its tokens are refused")
  func emergencyRotation() async throws {
    try await GatewayFixture.with { gateway in
      let admin = try await gateway.password()
      let compromised = try #require(Self.kid(admin.accessToken))
      let security = try await gateway.login(as: "sec", roles: [.securityAdmin])
      // A backend that cached the JWKS before the rotation.
      let fetcher = InMemoryJWKSFetcher(jwks: try await gateway.runtime.keyRing.fetchJWKS())
      var backendConfiguration = TokenVerificationConfiguration.test()
      backendConfiguration.maximumKeyAge = .milliseconds(50)
      let backend = TokenVerifier(configuration: backendConfiguration, fetcher: fetcher, logger: .init(label: "t"))
      _ = try await backend.verify(admin.accessToken)

      let response = try await gateway.api.rotateSigningKeys(.with {
        $0.mode = .emergency
        $0.compromisedKid = compromised
        $0.reason = "key leaked in a test"
      }, call: try await gateway.call(security.accessToken))
      #expect(response.revokedKids == [compromised])
      #expect(response.activeKey.kid != compromised)
      #expect(!(try await Self.jwksKids(gateway).contains(compromised)))

      // The gateway refuses the kid at once (session guard), and the new key signs at once.
      let guardCheck = SessionGuard(revocations: gateway.runtime.revocations, keyRing: gateway.runtime.keyRing)
      #expect(throws: MaestroError.self) { try guardCheck.check(principal: Principal(subject: "s", tenant: "default", roles: []), token: admin.accessToken) }
      let fresh = try await gateway.password().accessToken
      #expect(Self.kid(fresh) == response.activeKey.kid)
      #expect(try await gateway.verify(fresh).roles == [.admin])

      // A backend drops the kid once its cache is older than maximumKeyAge.
      fetcher.replace(with: try await gateway.runtime.keyRing.fetchJWKS())
      let dropped = await eventually(within: .seconds(2)) {
        do { _ = try await backend.verify(admin.accessToken); return false } catch { return true }
      }
      #expect(dropped != nil)
      #expect(try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type = 'key.emergency_rotated'", as: Int.self) == 1)
    }
  }

  @Test("emergency rotation needs security-admin and a known kid")
  func emergencyRules() async throws {
    try await GatewayFixture.with { gateway in
      let admin = try await gateway.call(try await gateway.password().accessToken)
      let missing = await #expect(throws: MaestroError.self) {
        try await gateway.api.rotateSigningKeys(.with { $0.mode = .emergency }, call: admin)
      }
      #expect(missing?.field == "compromised_kid")
      let unknown = await #expect(throws: MaestroError.self) {
        try await gateway.api.rotateSigningKeys(.with {
          $0.mode = .emergency
          $0.compromisedKid = "k-nonexistent"
        }, call: admin)
      }
      #expect(unknown?.code == .notFound)
    }
  }
}
