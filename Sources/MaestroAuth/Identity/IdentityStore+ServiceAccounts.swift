import Foundation
import MaestroCore
import MaestroProtos
import PostgresNIO

extension IdentityStore {
  /// Creates an account with a fresh client secret; returns the row and the secret (shown once).
  func createServiceAccount(tenant: String, name: String, description: String, clientID: String? = nil, on connection: PostgresConnection) async throws -> (ServiceAccountRecord, secret: String) {
    let secret = Secrets.random()
    let clientID = clientID ?? "sa-" + Secrets.random(byteCount: 12)
    do {
      let rows = try await connection.query(
        """
        INSERT INTO service_accounts (tenant, name, description, client_id, secret_hash)
        VALUES (\(tenant), \(name), \(description), \(clientID), \(Secrets.sha256(secret)))
        RETURNING \(unescaped: ServiceAccountRecord.columns)
        """,
        logger: self.logger
      )
      for try await row in rows.decode(ServiceAccountRecord.Row.self) { return (ServiceAccountRecord(row: row), secret) }
      throw MaestroError.internal()
    } catch {
      throw StoreErrors.map(error, conflict: "service account '\(name)' already exists")
    }
  }

  func serviceAccount(tenant: String, id: UUID) async throws -> ServiceAccountRecord? {
    let rows = try await self.client.query(
      "SELECT \(unescaped: ServiceAccountRecord.columns) FROM service_accounts WHERE tenant = \(tenant) AND id = \(id)", logger: self.logger)
    for try await row in rows.decode(ServiceAccountRecord.Row.self) { return ServiceAccountRecord(row: row) }
    return nil
  }

  func serviceAccount(tenant: String, name: String) async throws -> ServiceAccountRecord? {
    let rows = try await self.client.query(
      "SELECT \(unescaped: ServiceAccountRecord.columns) FROM service_accounts WHERE tenant = \(tenant) AND name = \(name)", logger: self.logger)
    for try await row in rows.decode(ServiceAccountRecord.Row.self) { return ServiceAccountRecord(row: row) }
    return nil
  }

  /// The account whose client id and secret match (current secret, or the previous one within
  /// its grace period), or nil.
  func authenticateClient(clientID: String, secret: String) async throws -> ServiceAccountRecord? {
    let rows = try await self.client.query(
      """
      SELECT \(unescaped: ServiceAccountRecord.columns), secret_hash, previous_secret_hash, previous_secret_expires_at > now()
      FROM service_accounts WHERE client_id = \(clientID)
      """,
      logger: self.logger
    )
    let presented = Secrets.sha256(secret)
    for try await row in rows.decode((UUID, String, String, String, String, Bool, Date, Date, Date?, Data, Data?, Bool?).self) {
      let record = ServiceAccountRecord(row: (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8))
      let current = constantTimeEquals(presented, row.9)
      let previous = row.11 == true && row.10.map { constantTimeEquals(presented, $0) } == true
      guard current || previous else { return nil }
      _ = try await self.client.query("UPDATE service_accounts SET last_used_at = now() WHERE id = \(record.id)", logger: self.logger).collect()
      return record
    }
    return nil
  }

  func listServiceAccounts(tenant: String, pageSize: Int, after: String?) async throws -> [ServiceAccountRecord] {
    let rows = try await self.client.query(
      """
      SELECT \(unescaped: ServiceAccountRecord.columns) FROM service_accounts
      WHERE tenant = \(tenant) AND (\(after)::text IS NULL OR name > \(after)) ORDER BY name LIMIT \(pageSize + 1)
      """,
      logger: self.logger
    )
    var accounts: [ServiceAccountRecord] = []
    for try await row in rows.decode(ServiceAccountRecord.Row.self) { accounts.append(ServiceAccountRecord(row: row)) }
    return accounts
  }

  func deleteServiceAccount(tenant: String, id: UUID, on connection: PostgresConnection) async throws -> Bool {
    let rows = try await connection.query("DELETE FROM service_accounts WHERE tenant = \(tenant) AND id = \(id) RETURNING id", logger: self.logger)
    for try await _ in rows.decode(UUID.self) { return true }
    return false
  }

  /// A new secret; the old one keeps working for `grace` (zero: revoked at once).
  func rotateSecret(tenant: String, id: UUID, grace: Duration, on connection: PostgresConnection) async throws -> (secret: String, previousExpiresAt: Date?)? {
    let secret = Secrets.random()
    let graceSeconds = Double(grace.components.seconds)
    let rows = try await connection.query(
      """
      UPDATE service_accounts SET
        previous_secret_hash = CASE WHEN \(graceSeconds) > 0 THEN secret_hash ELSE NULL END,
        previous_secret_expires_at = CASE WHEN \(graceSeconds) > 0 THEN now() + make_interval(secs => \(graceSeconds)) ELSE NULL END,
        secret_hash = \(Secrets.sha256(secret)), secret_created_at = now(), updated_at = now()
      WHERE tenant = \(tenant) AND id = \(id)
      RETURNING previous_secret_expires_at
      """,
      logger: self.logger
    )
    for try await expires in rows.decode(Date?.self) { return (secret, expires) }
    return nil
  }
}
