import Foundation
import Logging
import MaestroAuthModel
import MaestroCore
import MaestroKit
import PostgresNIO

/// Persistence of sessions and rotating refresh tokens. Revocations NOTIFY every replica.
struct SessionStore: Sendable {
  let database: Database
  let logger: Logger

  /// What a new session is for.
  struct NewSession: Sendable {
    var tenant: String
    var subject: String
    var userID: UUID?
    var serviceAccountID: UUID?
    /// `password`, `client_credentials` or `token_exchange`.
    var authMethod: String
    var oidcIssuer: String?
    var clientAddress: String?
    var userAgent: String?
    var createdAt: Date
    var expiresAt: Date
    /// Whether to mint a refresh token (not for client credentials).
    var withRefreshToken: Bool
  }

  struct Created: Sendable {
    var sid: UUID
    var refreshToken: String?
    /// Sessions revoked to make room (evict-oldest).
    var evicted: [UUID]
  }

  /// Creates a session under `limit` (users only), atomically with its evictions.
  func create(_ new: NewSession, limit: SessionLimitPolicy) async throws -> Created {
    try await self.database.withTransaction { connection in
      var evicted: [UUID] = []
      if let userID = new.userID {
        let rows = try await connection.query(
          """
          SELECT sid FROM sessions
          WHERE tenant = \(new.tenant) AND user_id = \(userID) AND revoked_at IS NULL AND expires_at > \(new.createdAt)
          ORDER BY created_at, sid FOR UPDATE
          """,
          logger: self.logger
        )
        var live: [String] = []
        for try await sid in rows.decode(UUID.self) { live.append(sid.uuidString) }
        switch limit.admit(liveSessionsOldestFirst: live) {
        case .reject:
          throw MaestroError(.resourceExhausted, "session limit reached (\(limit.maximumSessions) concurrent sessions): log out of another session first")
        case .admit(let evicting):
          for text in evicting {
            guard let sid = UUID(uuidString: text) else { continue }
            if try await self.revoke(tenant: new.tenant, sid: sid, reason: "session_limit_evicted", by: nil, on: connection) != nil {
              evicted.append(sid)
            }
          }
        }
      }
      let rows = try await connection.query(
        """
        INSERT INTO sessions (tenant, subject, user_id, service_account_id, auth_method, oidc_issuer, client_address, user_agent, created_at, last_seen_at, expires_at)
        VALUES (\(new.tenant), \(new.subject), \(new.userID), \(new.serviceAccountID), \(new.authMethod), \(new.oidcIssuer),
                \(new.clientAddress)::inet, \(new.userAgent.map { String($0.prefix(256)) }), \(new.createdAt), \(new.createdAt), \(new.expiresAt))
        RETURNING sid
        """,
        logger: self.logger
      )
      var sid: UUID?
      for try await value in rows.decode(UUID.self) { sid = value }
      guard let sid else { throw MaestroError.internal() }
      var refreshToken: String?
      if new.withRefreshToken {
        refreshToken = try await self.insertRefreshToken(tenant: new.tenant, sid: sid, family: UUID(), generation: 1, issuedAt: new.createdAt, expiresAt: new.expiresAt, on: connection)
      }
      return Created(sid: sid, refreshToken: refreshToken, evicted: evicted)
    }
  }

  private func insertRefreshToken(tenant: String, sid: UUID, family: UUID, generation: Int, issuedAt: Date, expiresAt: Date, on connection: PostgresConnection) async throws -> String {
    let token = "rt." + Secrets.random()
    _ = try await connection.query(
      """
      INSERT INTO refresh_tokens (token_hash, tenant, sid, family, generation, issued_at, expires_at)
      VALUES (\(Secrets.sha256(token)), \(tenant), \(sid), \(family), \(generation), \(issuedAt), \(expiresAt))
      """,
      logger: self.logger
    ).collect()
    return token
  }

  /// The outcome of presenting a refresh token.
  enum RefreshOutcome: Sendable {
    case rotated(SessionRecord, refreshToken: String)
    /// The token was already spent: its session is now revoked.
    case reused(SessionRecord)
    case invalid
  }

  /// Spends `token` and mints its successor, or detects reuse (and revokes the session).
  func refresh(token: String, now: Date) async throws -> RefreshOutcome {
    try await self.database.withTransaction { connection in
      let rows = try await connection.query(
        """
        SELECT r.tenant, r.sid, r.family, r.generation, r.expires_at, r.spent_at IS NOT NULL
        FROM refresh_tokens r WHERE r.token_hash = \(Secrets.sha256(token)) FOR UPDATE
        """,
        logger: self.logger
      )
      var found: (String, UUID, UUID, Int, Date, Bool)?
      for try await row in rows.decode((String, UUID, UUID, Int, Date, Bool).self) { found = row }
      guard let (tenant, sid, family, generation, expiresAt, spent) = found,
        let session = try await self.session(tenant: tenant, sid: sid, on: connection, lock: true)
      else { return .invalid }
      if spent {
        _ = try await self.revoke(tenant: tenant, sid: sid, reason: "refresh_token_reuse", by: nil, on: connection)
        return .reused(session)
      }
      guard session.revokedAt == nil, expiresAt > now, session.expiresAt > now else { return .invalid }
      _ = try await connection.query(
        "UPDATE refresh_tokens SET spent_at = \(now) WHERE token_hash = \(Secrets.sha256(token))", logger: self.logger
      ).collect()
      _ = try await connection.query(
        "UPDATE sessions SET last_seen_at = \(now) WHERE tenant = \(tenant) AND sid = \(sid)", logger: self.logger
      ).collect()
      let next = try await self.insertRefreshToken(
        tenant: tenant, sid: sid, family: family, generation: generation + 1, issuedAt: now, expiresAt: session.expiresAt, on: connection)
      return .rotated(session, refreshToken: next)
    }
  }

  func session(tenant: String, sid: UUID, on connection: PostgresConnection? = nil, lock: Bool = false) async throws -> SessionRecord? {
    let query: PostgresQuery = "SELECT \(unescaped: SessionRecord.columns) FROM sessions WHERE tenant = \(tenant) AND sid = \(sid)\(unescaped: lock ? " FOR UPDATE" : "")"
    let rows = try await (connection != nil ? connection!.query(query, logger: self.logger) : self.database.client.query(query, logger: self.logger))
    for try await row in rows.decode(SessionRecord.Row.self) { return SessionRecord(row: row) }
    return nil
  }

  /// The session of a refresh token, if the token is known (RFC 7009 revocation).
  func sessionOfRefreshToken(_ token: String) async throws -> (tenant: String, sid: UUID)? {
    let rows = try await self.database.client.query(
      "SELECT tenant, sid FROM refresh_tokens WHERE token_hash = \(Secrets.sha256(token))", logger: self.logger)
    for try await row in rows.decode((String, UUID).self) { return row }
    return nil
  }

  /// Revokes a live session and notifies every replica; returns it, or nil if it was not live.
  func revoke(tenant: String, sid: UUID, reason: String, by revoker: String?, on connection: PostgresConnection) async throws -> SessionRecord? {
    let rows = try await connection.query(
      """
      UPDATE sessions SET revoked_at = now(), revoked_reason = \(reason), revoked_by = \(revoker)
      WHERE tenant = \(tenant) AND sid = \(sid) AND revoked_at IS NULL
      RETURNING \(unescaped: SessionRecord.columns)
      """,
      logger: self.logger
    )
    var revoked: SessionRecord?
    for try await row in rows.decode(SessionRecord.Row.self) { revoked = SessionRecord(row: row) }
    guard let revoked else { return nil }
    let payload = GatewayNotification.sessionRevoked(sid: sid.uuidString.lowercased(), expiresAt: revoked.expiresAt).payload
    _ = try await connection.query("SELECT pg_notify(\(GatewayNotification.channel), \(payload))", logger: self.logger).collect()
    return revoked
  }

  /// Revokes every live session of a subject in `tenant`; returns the revoked ids.
  func revokeAll(tenant: String, userID: UUID?, serviceAccountID: UUID?, except: UUID?, reason: String, by revoker: String?, on connection: PostgresConnection) async throws -> [UUID] {
    let rows = try await connection.query(
      """
      SELECT sid FROM sessions
      WHERE tenant = \(tenant) AND revoked_at IS NULL
        AND user_id IS NOT DISTINCT FROM \(userID) AND service_account_id IS NOT DISTINCT FROM \(serviceAccountID)
        AND (\(except)::uuid IS NULL OR sid <> \(except))
      """,
      logger: self.logger
    )
    var sids: [UUID] = []
    for try await sid in rows.decode(UUID.self) { sids.append(sid) }
    var revoked: [UUID] = []
    for sid in sids where try await self.revoke(tenant: tenant, sid: sid, reason: reason, by: revoker, on: connection) != nil {
      revoked.append(sid)
    }
    return revoked
  }

  /// Sessions of `tenant`, newest first; `subject` nil lists all subjects.
  func list(tenant: String, subject: String?, includeRevoked: Bool, pageSize: Int, after: UUID?) async throws -> [SessionRecord] {
    let rows = try await self.database.client.query(
      """
      SELECT \(unescaped: SessionRecord.columns) FROM sessions
      WHERE tenant = \(tenant) AND (\(subject)::text IS NULL OR subject = \(subject))
        AND (\(includeRevoked) OR (revoked_at IS NULL AND expires_at > now()))
        AND (\(after)::uuid IS NULL OR (created_at, sid) < (SELECT c.created_at, c.sid FROM sessions c WHERE c.tenant = \(tenant) AND c.sid = \(after)))
      ORDER BY created_at DESC, sid DESC LIMIT \(pageSize + 1)
      """,
      logger: self.logger
    )
    var sessions: [SessionRecord] = []
    for try await row in rows.decode(SessionRecord.Row.self) { sessions.append(SessionRecord(row: row)) }
    return sessions
  }

  /// Deletes sessions (and, by cascade, their refresh tokens) that expired more than
  /// `retention` ago; returns how many. Their tokens are long dead, and the audit log keeps the
  /// history.
  func purgeExpired(now: Date, retention: Duration) async throws -> Int {
    let rows = try await self.database.client.query(
      "WITH gone AS (DELETE FROM sessions WHERE expires_at < \(now - retention) RETURNING 1) SELECT count(*)::int FROM gone",
      logger: self.logger
    )
    for try await count in rows.decode(Int.self) { return count }
    return 0
  }

  /// Revoked sessions whose tokens may still be alive (the deny list at start).
  func revokedUnexpired() async throws -> [String: Date] {
    let rows = try await self.database.client.query(
      "SELECT sid, expires_at FROM sessions WHERE revoked_at IS NOT NULL AND expires_at > now()", logger: self.logger)
    var entries: [String: Date] = [:]
    for try await (sid, expiresAt) in rows.decode((UUID, Date).self) { entries[sid.uuidString.lowercased()] = expiresAt }
    return entries
  }
}
