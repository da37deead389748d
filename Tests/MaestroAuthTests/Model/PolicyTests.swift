import Foundation
import MaestroAuthModel
import MaestroCore
import Testing

@Suite("Session limit, back-off, password and paging policies (pure)")
struct PolicyTests {
  @Test("evict-oldest admits the new session and evicts the oldest over the limit")
  func evictOldest() {
    let policy = SessionLimitPolicy(maximumSessions: 3, onLimit: .evictOldest)
    #expect(policy.admit(liveSessionsOldestFirst: ["a", "b"]) == .admit(evicting: []))
    #expect(policy.admit(liveSessionsOldestFirst: ["a", "b", "c"]) == .admit(evicting: ["a"]))
    #expect(policy.admit(liveSessionsOldestFirst: ["a", "b", "c", "d"]) == .admit(evicting: ["a", "b"]))
  }

  @Test("reject-new refuses the login at the limit")
  func rejectNew() {
    let policy = SessionLimitPolicy(maximumSessions: 2, onLimit: .rejectNew)
    #expect(policy.admit(liveSessionsOldestFirst: ["a"]) == .admit(evicting: []))
    #expect(policy.admit(liveSessionsOldestFirst: ["a", "b"]) == .reject)
  }

  @Test("back-off is free for the first failures, then doubles up to the cap", arguments: [
    (5, 0), (6, 1), (7, 2), (8, 4), (15, 512), (16, 900), (60, 900),
  ])
  func backoff(failures: Int, seconds: Int64) {
    #expect(LoginBackoffPolicy.perUser.lockDuration(afterFailures: failures) == .seconds(seconds))
  }

  @Test("password policy", arguments: [
    ("short", "alice", "must be at least 12 characters"),
    ("aaaaaaaaaaaaaaaa", "alice", "must not be one repeated character"),
    ("AliceTheAdmin1", "alicetheadmin1", "must not be the username"),
    ("a perfectly fine passphrase", "alice", nil),
  ] as [(String, String, String?)])
  func password(password: String, username: String, violation: String?) {
    #expect(PasswordPolicy().violation(password: password, username: username) == violation)
  }

  @Test("stronger settings ask for a rehash; unsafe parameters are refused")
  func rehash() {
    #expect(PasswordPolicy().needsRehash(.testing))
    #expect(!PasswordPolicy().needsRehash(.standard))
    #expect(!ScryptParameters(n: 3, r: 8, p: 1, keyLength: 32).isAcceptable)
    #expect(!ScryptParameters(n: 1 << 24, r: 8, p: 1, keyLength: 32).isAcceptable)
  }

  @Test("page sizes default to 50 and are capped at 500")
  func pageSize() {
    #expect(Paging.pageSize(0) == 50)
    #expect(Paging.pageSize(7) == 7)
    #expect(Paging.pageSize(10_000) == 500)
    #expect(Paging.pageSize(-1) == nil)
  }

  @Test("page cursors round-trip and refuse tokens of another list")
  func cursor() throws {
    let token = PageCursor(list: "users", values: ["alice"]).token
    #expect(PageCursor(token: token, list: "users", count: 1)?.values == ["alice"])
    #expect(PageCursor(token: token, list: "tenants", count: 1) == nil)
    #expect(PageCursor(token: "%%%", list: "users", count: 1) == nil)
  }

  @Test("base64url round-trips every length")
  func base64() {
    for length in 0..<40 {
      let bytes = (0..<length).map { UInt8(($0 * 37 + 11) % 256) }
      #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
    }
  }

  @Test("only admin may act in another tenant, and that scope is cross-tenant")
  func tenantScope() throws {
    let admin = Principal(subject: "a", tenant: "default", roles: [.admin])
    let viewer = Principal(subject: "v", tenant: "acme", roles: [.viewer])
    #expect(try TenantScope.resolve(principal: viewer, requested: nil) == TenantScope(tenant: "acme", isCrossTenant: false))
    #expect(try TenantScope.resolve(principal: viewer, requested: "acme") == TenantScope(tenant: "acme", isCrossTenant: false))
    #expect(throws: MaestroError.self) { try TenantScope.resolve(principal: viewer, requested: "other") }
    #expect(try TenantScope.resolve(principal: admin, requested: "acme") == TenantScope(tenant: "acme", isCrossTenant: true))
    #expect(throws: MaestroError.self) { try TenantScope.resolve(principal: admin, requested: "Bad Tenant!") }
  }
}
