import Foundation
import Logging
import MaestroAuthModel
import MaestroKit
import PostgresNIO

/// Brute-force state of the password grant, per (tenant, username as typed) and per client
/// address (IPv6 by /64). The lock times come from ``LoginBackoffPolicy``.
struct LoginBackoffStore: Sendable {
  let database: Database
  let userPolicy: LoginBackoffPolicy
  let addressPolicy: LoginBackoffPolicy
  let logger: Logger

  /// The address key as SQL: IPv6 addresses become their /64 network.
  private static let addressKey = "CASE WHEN family(a.ip) = 6 THEN set_masklen(network(set_masklen(a.ip, 64))::inet, 64) ELSE a.ip END"

  /// When the attempt may be made, if either key is locked now; nil when it may proceed.
  func lockedUntil(tenant: String, username: String, address: String?, now: Date) async throws -> Date? {
    let rows = try await self.database.client.query(
      """
      WITH a AS (SELECT \(address)::inet AS ip)
      SELECT max(locked_until) FROM (
        SELECT locked_until FROM login_backoff_users WHERE tenant = \(tenant) AND username = \(username)
        UNION ALL
        SELECT b.locked_until FROM login_backoff_addresses b, a WHERE a.ip IS NOT NULL AND b.client_address = \(unescaped: Self.addressKey)
      ) locks
      """,
      logger: self.logger
    )
    for try await until in rows.decode(Date?.self) {
      if let until, until > now { return until }
    }
    return nil
  }

  /// Records a failed attempt on both keys and sets their locks.
  func recordFailure(tenant: String, username: String, address: String?, now: Date) async throws {
    try await self.database.withTransaction { connection in
      let userRows = try await connection.query(
        """
        INSERT INTO login_backoff_users (tenant, username, failures, first_failure_at, last_failure_at)
        VALUES (\(tenant), \(username), 1, \(now), \(now))
        ON CONFLICT (tenant, username) DO UPDATE SET failures = login_backoff_users.failures + 1, last_failure_at = \(now)
        RETURNING failures
        """,
        logger: self.logger
      )
      var userFailures = 0
      for try await failures in userRows.decode(Int.self) { userFailures = failures }
      let userLock = self.userPolicy.lockDuration(afterFailures: userFailures)
      if userLock > .zero {
        _ = try await connection.query(
          "UPDATE login_backoff_users SET locked_until = \(now + userLock) WHERE tenant = \(tenant) AND username = \(username)",
          logger: self.logger
        ).collect()
      }
      guard let address else { return }
      let addressRows = try await connection.query(
        """
        WITH a AS (SELECT \(address)::inet AS ip)
        INSERT INTO login_backoff_addresses (client_address, failures, first_failure_at, last_failure_at)
        SELECT \(unescaped: Self.addressKey), 1, \(now), \(now) FROM a
        ON CONFLICT (client_address) DO UPDATE SET failures = login_backoff_addresses.failures + 1, last_failure_at = \(now)
        RETURNING client_address::text, failures
        """,
        logger: self.logger
      )
      for try await (key, failures) in addressRows.decode((String, Int).self) {
        let lock = self.addressPolicy.lockDuration(afterFailures: failures)
        if lock > .zero {
          _ = try await connection.query(
            "UPDATE login_backoff_addresses SET locked_until = \(now + lock) WHERE client_address = \(key)::inet", logger: self.logger
          ).collect()
        }
      }
    }
  }

  /// A successful login resets the per-user state.
  func recordSuccess(tenant: String, username: String) async throws {
    _ = try await self.database.client.query(
      "DELETE FROM login_backoff_users WHERE tenant = \(tenant) AND username = \(username)", logger: self.logger
    ).collect()
  }
}
