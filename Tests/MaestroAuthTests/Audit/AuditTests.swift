import Foundation
import MaestroAuth
import MaestroCore
import MaestroProtos
import Testing

@Suite("Audit log: append-only, paged by time and type (real Postgres)")
struct AuditTests {
  @Test("security-admin pages through events newest first, filtered by type and time")
  func paging() async throws {
    try await GatewayFixture.with { gateway in
      for _ in 0..<3 { _ = await #expect(throws: OAuthError.self) { try await gateway.password("admin", "wrong password!!") } }
      let security = try await gateway.call(try await gateway.login(as: "sec", roles: [.securityAdmin]).accessToken)

      var seen: [Maestro_Auth_V1_AuditEvent] = []
      var token = ""
      repeat {
        let page = try await gateway.api.listAuditEvents(.with {
          $0.pageSize = 2
          $0.pageToken = token
        }, call: security)
        #expect(page.events.count <= 2)
        seen += page.events
        token = page.nextPageToken
      } while !token.isEmpty
      let total = try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE tenant = 'default'", as: Int.self)
      #expect(seen.count == total)
      #expect(Set(seen.map(\.id)).count == seen.count)
      #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.occurredAt.date >= $1.occurredAt.date })

      let failures = try await gateway.api.listAuditEvents(.with { $0.types = [.loginFailed] }, call: security)
      #expect(failures.events.count == 3)
      #expect(failures.events.allSatisfy { !$0.success && $0.details.fields["username"]?.stringValue == "admin" })

      let future = try await gateway.api.listAuditEvents(.with {
        $0.timeRange.startTime = .init(date: Date().addingTimeInterval(3600))
      }, call: security)
      #expect(future.events.isEmpty)
      let badToken = await #expect(throws: MaestroError.self) {
        try await gateway.api.listAuditEvents(.with { $0.pageToken = "garbage" }, call: security)
      }
      #expect(badToken?.field == "page_token")
    }
  }

  @Test("the audit table refuses UPDATE and DELETE")
  func appendOnly() async throws {
    try await GatewayFixture.with { gateway in
      await #expect(throws: (any Error).self) {
        try await gateway.database.client.query("DELETE FROM audit_events").collect()
      }
      await #expect(throws: (any Error).self) {
        try await gateway.database.client.query("UPDATE audit_events SET outcome = 'success'").collect()
      }
    }
  }
}
