import Foundation
import JWTKit
import Logging
import MaestroAuthModel
import MaestroCore
import MaestroKit
import PostgresNIO

/// Persistence of `auth.signing_keys`: reads the key set and applies rotation plans in one
/// transaction under an advisory lock, so only one replica rotates at a time.
struct SigningKeyStore: Sendable {
  let database: Database
  let masterKey: MasterKey
  let logger: Logger

  /// The NOTIFY channel that tells every replica to reload its keys.
  static let channel = GatewayNotification.channel
  /// The advisory-lock key that serialises rotation across replicas.
  static let lockKey: Int64 = 0x6d61_6573_6b65_7973  // "maeskeys"

  func loadAll(on connection: PostgresConnection? = nil) async throws -> [SigningKeyRecord] {
    let query: PostgresQuery = """
      SELECT kid, state, public_jwk::text, private_key_ciphertext, private_key_nonce, master_key_id,
             created_at, activates_at, retires_at, purge_at, revoked_at
      FROM signing_keys ORDER BY created_at DESC, kid
      """
    let rows: PostgresRowSequence
    if let connection {
      rows = try await connection.query(query, logger: self.logger)
    } else {
      rows = try await self.database.client.query(query, logger: self.logger)
    }
    var records: [SigningKeyRecord] = []
    for try await (kid, state, jwk, ciphertext, nonce, masterKeyID, createdAt, activatesAt, retiresAt, purgeAt, revokedAt) in rows.decode(
      (String, String, String, Data, Data, String, Date, Date, Date?, Date?, Date?).self
    ) {
      guard let state = KeyRotationSchedule.State(rawValue: state) else { continue }
      records.append(SigningKeyRecord(
        kid: kid, state: state, publicJWK: jwk, ciphertext: ciphertext, nonce: nonce, masterKeyID: masterKeyID,
        createdAt: createdAt, activatesAt: activatesAt, retiresAt: retiresAt, purgeAt: purgeAt, revokedAt: revokedAt
      ))
    }
    return records
  }

  /// Runs `plan` against the current keys inside one locked transaction and applies its steps.
  /// Returns the steps applied (empty when nothing was due) and the kids created.
  func rotate(
    plan: @Sendable ([KeyRotationSchedule.Key]) -> [KeyRotationSchedule.Step]?
  ) async throws -> (steps: [KeyRotationSchedule.Step], created: [String])? {
    try await self.database.withTransaction { connection in
      _ = try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: self.logger).collect()
      let keys = try await self.loadAll(on: connection).map(\.scheduleKey)
      guard let steps = plan(keys) else { return nil }
      var created: [String] = []
      for step in steps {
        if let kid = try await self.apply(step, on: connection) { created.append(kid) }
      }
      if !steps.isEmpty {
        _ = try await connection.query("SELECT pg_notify(\(Self.channel), \(GatewayNotification.keysChanged.payload))", logger: self.logger).collect()
      }
      return (steps, created)
    }
  }

  /// Applies one step; returns the new kid for `.create`.
  private func apply(_ step: KeyRotationSchedule.Step, on connection: PostgresConnection) async throws -> String? {
    switch step {
    case .create(let state, let activatesAt, let retiresAt):
      let kid = Self.makeKeyID()
      let key = ES256PrivateKey()
      guard let parameters = key.parameters else { throw MaestroError.internal(cause: KeyMaterialError.noParameters) }
      let jwk = #"{"kty":"EC","crv":"P-256","x":"\#(parameters.x)","y":"\#(parameters.y)","kid":"\#(kid)","alg":"ES256","use":"sig"}"#
      let sealed = try self.masterKey.seal(Data(key.pemRepresentation.utf8), kid: kid)
      _ = try await connection.query(
        """
        INSERT INTO signing_keys (kid, public_jwk, private_key_ciphertext, private_key_nonce, master_key_id, state, activates_at, retires_at)
        VALUES (\(kid), \(jwk)::jsonb, \(sealed.ciphertext), \(sealed.nonce), \(self.masterKey.id), \(state.rawValue), \(activatesAt), \(retiresAt))
        """,
        logger: self.logger
      ).collect()
      return kid
    case .activate(let kid, let at, let retiresAt):
      _ = try await connection.query(
        "UPDATE signing_keys SET state = 'active', activates_at = \(at), retires_at = \(retiresAt) WHERE kid = \(kid)",
        logger: self.logger
      ).collect()
    case .retire(let kid, let at, let purgeAt):
      _ = try await connection.query(
        "UPDATE signing_keys SET state = 'retired', retires_at = GREATEST(\(at), activates_at), purge_at = \(purgeAt) WHERE kid = \(kid)",
        logger: self.logger
      ).collect()
    case .revoke(let kid, let at):
      _ = try await connection.query(
        """
        UPDATE signing_keys SET state = 'revoked', revoked_at = \(at), revoked_reason = 'emergency rotation',
          retires_at = COALESCE(retires_at, GREATEST(\(at), activates_at))
        WHERE kid = \(kid)
        """,
        logger: self.logger
      ).collect()
    case .purge(let kid):
      _ = try await connection.query("DELETE FROM signing_keys WHERE kid = \(kid)", logger: self.logger).collect()
    }
    return nil
  }

  /// Decrypts a row's private key.
  func privateKey(of record: SigningKeyRecord) throws -> ES256PrivateKey {
    guard record.masterKeyID == self.masterKey.id else {
      throw MaestroError(.failedPrecondition, "signing key \(record.kid) is encrypted under another master key (\(record.masterKeyID)); check MAESTRO_MASTER_KEY")
    }
    let pem = try self.masterKey.open(ciphertext: record.ciphertext, nonce: record.nonce, kid: record.kid)
    return try ES256PrivateKey(pem: String(decoding: pem, as: UTF8.self))
  }

  /// A random, URL-safe key id.
  static func makeKeyID() -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return "k-" + Base64URL.encode(bytes)
  }
}

enum KeyMaterialError: Error {
  case noParameters
}
