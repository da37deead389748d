import Foundation
import Logging
import MaestroCore
import PostgresNIO

/// First-start provisioning, idempotent and safe with several replicas starting at once
/// (one transaction under an advisory lock): tenant `default`, user `admin` with role admin,
/// and a service account (role platform-operator) for each backend.
///
/// The admin password is `MAESTRO_BOOTSTRAP_ADMIN_PASSWORD`, else generated and written to
/// the bootstrap password file (mode 0600). Backend secrets are written as
/// `<secrets dir>/<name>.secret` (0600) with the client id in `<name>.client_id`. Secrets are
/// never logged; the log names the files.
struct Bootstrapper: Sendable {
  let runtime: GatewayRuntime

  /// The backends, and the gateway itself (it reports request outcomes to metrics-service).
  static let backends = ["workflow-service", "scheduler", "metrics-service", "migration-service", "auth-gateway"]
  /// Bootstrapped service accounts and their role: the backends (platform-operator), and the
  /// reference worker (`workflow-service worker`), which only works tasks of tenant `default`.
  static let accounts: [(name: String, role: Role, description: String)] =
    Self.backends.map { ($0, .platformOperator, "Backend service \($0)") } + [("maestro-worker", .workflowOperator, "Reference worker (demo task queues)")]
  static let lockKey: Int64 = 0x6d61_6573_626f_6f74  // "maesboot"

  func run() async throws {
    let configuration = self.runtime.configuration
    let identities = self.runtime.identities
    let logger = self.runtime.logger
    let written: [String] = try await self.runtime.database.withTransaction { connection in
      _ = try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger).collect()
      var written: [String] = []
      _ = try await connection.query(
        "INSERT INTO tenants (tenant, display_name) VALUES ('default', 'Default tenant') ON CONFLICT (tenant) DO NOTHING",
        logger: logger
      ).collect()
      if try await identities.user(tenant: "default", username: "admin") == nil {
        let password = configuration.bootstrapAdminPassword ?? Secrets.random(byteCount: 18)
        let hash = try PasswordHasher(parameters: configuration.passwordPolicy.scrypt).hash(password)
        let admin = try await identities.createUser(
          tenant: "default", username: "admin", email: nil, displayName: "Bootstrap administrator", disabled: false, password: hash, on: connection)
        try await identities.bind([.admin], tenant: "default", userID: admin.id, by: "bootstrap", on: connection)
        if configuration.bootstrapAdminPassword == nil {
          try Self.writeSecret(password + "\n", to: configuration.bootstrapAdminPasswordFile)
          written.append(configuration.bootstrapAdminPasswordFile)
        }
        try await self.runtime.audit.append(
          AuditEntry(kind: .userCreated, tenant: "default", actorSubject: "bootstrap", targetType: "user", targetID: admin.id.uuidString.lowercased(), details: ["username": "admin", "roles": "admin"]),
          on: connection)
      }
      for (name, role, description) in Self.accounts where try await identities.serviceAccount(tenant: "default", name: name) == nil {
        let (account, secret) = try await identities.createServiceAccount(
          tenant: "default", name: name, description: description, clientID: name, on: connection)
        try await identities.bind([role], tenant: "default", serviceAccountID: account.id, by: "bootstrap", on: connection)
        let directory = configuration.bootstrapSecretsDirectory
        try Self.writeSecret(secret + "\n", to: "\(directory)/\(name).secret")
        try Self.writeSecret(name + "\n", to: "\(directory)/\(name).client_id")
        written.append("\(directory)/\(name).secret")
        try await self.runtime.audit.append(
          AuditEntry(kind: .serviceAccountCreated, tenant: "default", actorSubject: "bootstrap", targetType: "service_account", targetID: account.id.uuidString.lowercased(), details: ["name": name, "roles": role.rawValue]),
          on: connection)
      }
      return written
    }
    for path in written {
      logger.notice("bootstrap secret written", metadata: ["path": "\(path)"])
    }
  }

  /// Writes `contents` to `path` readable by the owner only, creating parent folders.
  static func writeSecret(_ contents: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600])
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
  }
}
