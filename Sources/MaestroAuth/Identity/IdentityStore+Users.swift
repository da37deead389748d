import Foundation
import MaestroCore
import MaestroProtos
import PostgresNIO

extension IdentityStore {
  func createUser(
    tenant: String, username: String, email: String?, displayName: String, disabled: Bool,
    password: PasswordHasher.Hash?, on connection: PostgresConnection
  ) async throws -> UserRecord {
    let hash = password
    do {
      let rows = try await connection.query(
        """
        INSERT INTO users AS u (tenant, username, email, display_name, disabled, password_hash, password_salt,
                           scrypt_n, scrypt_r, scrypt_p, scrypt_dklen, password_changed_at)
        VALUES (\(tenant), \(username), \(email), \(displayName), \(disabled), \(hash?.hash), \(hash?.salt),
                \(hash?.parameters.n), \(hash?.parameters.r), \(hash?.parameters.p), \(hash?.parameters.keyLength),
                CASE WHEN \(hash?.hash)::bytea IS NULL THEN NULL ELSE now() END)
        RETURNING \(unescaped: UserRecord.columns)
        """,
        logger: self.logger
      )
      for try await row in rows.decode(UserRecord.Row.self) { return UserRecord(row: row) }
      throw MaestroError.internal()
    } catch {
      throw StoreErrors.map(error, conflict: "user '\(username)' already exists")
    }
  }

  func user(tenant: String, id: UUID, on connection: PostgresConnection? = nil) async throws -> UserRecord? {
    let rows = try await self.run(
      "SELECT \(unescaped: UserRecord.columns) FROM users u WHERE u.tenant = \(tenant) AND u.id = \(id)", on: connection)
    for try await row in rows.decode(UserRecord.Row.self) { return UserRecord(row: row) }
    return nil
  }

  func user(tenant: String, username: String) async throws -> UserRecord? {
    let rows = try await self.client.query(
      "SELECT \(unescaped: UserRecord.columns) FROM users u WHERE u.tenant = \(tenant) AND u.username = \(username)",
      logger: self.logger)
    for try await row in rows.decode(UserRecord.Row.self) { return UserRecord(row: row) }
    return nil
  }

  func listUsers(tenant: String, prefix: String, pageSize: Int, after: String?) async throws -> [UserRecord] {
    let pattern = prefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
      .replacingOccurrences(of: "_", with: "\\_") + "%"
    let rows = try await self.client.query(
      """
      SELECT \(unescaped: UserRecord.columns) FROM users u
      WHERE u.tenant = \(tenant) AND u.username LIKE \(pattern) AND (\(after)::text IS NULL OR u.username > \(after))
      ORDER BY u.username LIMIT \(pageSize + 1)
      """,
      logger: self.logger
    )
    var users: [UserRecord] = []
    for try await row in rows.decode(UserRecord.Row.self) { users.append(UserRecord(row: row)) }
    return users
  }

  /// Applies the changed fields; nil leaves a field as is.
  func updateUser(tenant: String, id: UUID, email: String??, displayName: String?, disabled: Bool?, on connection: PostgresConnection) async throws -> UserRecord? {
    let setEmail = email != nil
    let newEmail: String? = email ?? nil
    let rows = try await connection.query(
      """
      UPDATE users u SET
        email = CASE WHEN \(setEmail) THEN \(newEmail) ELSE email END,
        display_name = COALESCE(\(displayName), display_name),
        disabled = COALESCE(\(disabled), disabled),
        updated_at = now()
      WHERE u.tenant = \(tenant) AND u.id = \(id)
      RETURNING \(unescaped: UserRecord.columns)
      """,
      logger: self.logger
    )
    for try await row in rows.decode(UserRecord.Row.self) { return UserRecord(row: row) }
    return nil
  }

  func deleteUser(tenant: String, id: UUID, on connection: PostgresConnection) async throws -> Bool {
    let rows = try await connection.query("DELETE FROM users WHERE tenant = \(tenant) AND id = \(id) RETURNING id", logger: self.logger)
    for try await _ in rows.decode(UUID.self) { return true }
    return false
  }

  func setPassword(tenant: String, id: UUID, hash: PasswordHasher.Hash, on connection: PostgresConnection? = nil) async throws -> Bool {
    let rows = try await self.run(
      """
      UPDATE users SET password_hash = \(hash.hash), password_salt = \(hash.salt), scrypt_n = \(hash.parameters.n),
        scrypt_r = \(hash.parameters.r), scrypt_p = \(hash.parameters.p), scrypt_dklen = \(hash.parameters.keyLength),
        password_changed_at = now(), updated_at = now()
      WHERE tenant = \(tenant) AND id = \(id) RETURNING id
      """,
      on: connection
    )
    for try await _ in rows.decode(UUID.self) { return true }
    return false
  }

  func recordLogin(tenant: String, userID: UUID) async throws {
    _ = try await self.client.query("UPDATE users SET last_login_at = now() WHERE tenant = \(tenant) AND id = \(userID)", logger: self.logger).collect()
  }
}
