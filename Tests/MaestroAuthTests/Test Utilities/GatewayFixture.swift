import Foundation
import Logging
import MaestroAuth
import MaestroAuthModel
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import PostgresNIO

/// A gateway runtime on a fresh, migrated test database, with a manual clock and cheap scrypt.
struct GatewayFixture: Sendable {
  let db: TestDatabase
  let database: Database
  let runtime: GatewayRuntime
  let clock: ManualAuthClock
  let directory: String

  var api: AuthAPI { self.runtime.api }

  static let adminPassword = "correct horse battery staple"

  static func configuration(directory: String, _ customise: (inout GatewayConfiguration) -> Void = { _ in }) -> GatewayConfiguration {
    var configuration = GatewayConfiguration(masterKey: .random())
    configuration.passwordPolicy = PasswordPolicy(scrypt: .testing)
    configuration.bootstrapAdminPassword = Self.adminPassword
    configuration.bootstrapAdminPasswordFile = directory + "/bootstrap-admin.password"
    configuration.bootstrapSecretsDirectory = directory + "/secrets"
    configuration.keyCheckInterval = .milliseconds(200)
    customise(&configuration)
    return configuration
  }

  /// Runs `body` with a prepared gateway (bootstrap done, keys loaded).
  static func with<Result: Sendable>(
    _ customise: @escaping @Sendable (inout GatewayConfiguration) -> Void = { _ in },
    oidcFetcher: (any OIDCDocumentFetcher)? = nil,
    _ body: @Sendable (GatewayFixture) async throws -> Result
  ) async throws -> Result {
    try await TestDatabase.with { db in
      try await db.migrate()
      let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-auth-\(UUID().uuidString)").path
      defer { try? FileManager.default.removeItem(atPath: directory) }
      let configuration = Self.configuration(directory: directory, customise)
      let database = Database(configuration: try db.serviceConfiguration(schema: "auth"), logger: Logger(label: "test.auth"))
      let clock = ManualAuthClock()
      return try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask {
          await database.client.run()
          return nil
        }
        defer { group.cancelAll() }
        let runtime = GatewayRuntime(
          configuration: configuration, database: database, logger: Logger(label: "test.gateway"), clock: clock,
          oidcFetcher: oidcFetcher ?? HTTPOIDCDocumentFetcher())
        try await runtime.prepare()
        return try await body(GatewayFixture(db: db, database: database, runtime: runtime, clock: clock, directory: directory))
      }
    }
  }

  /// A second replica on the same database (own pool, key ring, deny list).
  func withReplica<Result: Sendable>(_ body: @Sendable (GatewayRuntime) async throws -> Result) async throws -> Result {
    let database = Database(configuration: try self.db.serviceConfiguration(schema: "auth"), logger: Logger(label: "test.auth.replica"))
    let configuration = self.runtime.configuration
    let clock = self.clock
    return try await withThrowingTaskGroup(of: Result?.self) { group in
      group.addTask {
        await database.client.run()
        return nil
      }
      defer { group.cancelAll() }
      let replica = GatewayRuntime(configuration: configuration, database: database, logger: Logger(label: "test.gateway.replica"), clock: clock)
      try await replica.prepare()
      return try await body(replica)
    }
  }

  // MARK: - Token helpers

  func password(_ username: String = "admin", _ password: String = Self.adminPassword, tenant: String = "", address: String? = "127.0.0.1") async throws -> Maestro_Auth_V1_TokenResponse {
    try await self.api.token(.with {
      $0.grantType = "password"
      $0.username = username
      $0.password = password
      $0.tenant = tenant
    }, call: CallContext(clientAddress: address))
  }

  /// The principal a token proves, verified the way a backend verifies it.
  func verify(_ token: String) async throws -> Principal {
    try await self.runtime.verifier.verify(token)
  }

  /// The call context of a verified token (what the interceptors build).
  func call(_ token: String, tenant: String? = nil) async throws -> CallContext {
    CallContext(principal: try await self.verify(token), requestedTenant: tenant, clientAddress: "127.0.0.1", requestID: "test")
  }

  /// Creates a user with `roles` in `tenant` (as admin, cross-tenant when needed) and logs in.
  func login(as username: String, roles: [Role], tenant: String = "default") async throws -> Maestro_Auth_V1_TokenResponse {
    let admin = try await self.password()
    let call = try await self.call(admin.accessToken, tenant: tenant)
    if tenant != "default" {
      do {
        _ = try await self.api.createTenant(.with { $0.tenant.id = tenant }, call: try await self.call(admin.accessToken))
      } catch let error as MaestroError where error.code == .alreadyExists {}
    }
    _ = try await self.api.createUser(.with {
      $0.user.username = username
      $0.password = "password-of-\(username)"
      $0.roles = roles.map(\.proto)
    }, call: call)
    return try await self.password(username, "password-of-\(username)", tenant: tenant)
  }

  /// Runs a query as the auth role.
  func scalar<Value: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: Value.Type) async throws -> Value? {
    let rows = try await self.database.client.query(query)
    for try await value in rows.decode(Value.self) { return value }
    return nil
  }
}


/// Polls `condition` until it holds or `timeout` passes; returns the time it took, or nil.
func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Duration? {
  let start = ContinuousClock.now
  while ContinuousClock.now - start < timeout {
    if try await condition() { return ContinuousClock.now - start }
    try? await Task.sleep(for: .milliseconds(5))
  }
  return try await condition() ? ContinuousClock.now - start : nil
}
