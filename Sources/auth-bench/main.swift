// `make bench-auth`: token issuance and verification rates of auth-gateway's real code paths,
// in a release build, against the Postgres the Makefile target starts. Prints figures; it is a
// benchmark, not a test.
import Foundation
import Logging
import MaestroAuth
import MaestroCore
import MaestroKit
import MaestroProtos
import Synchronization

final class StaticJWKS: JWKSFetcher {
  let jwks: String
  let fetches = Atomic<Int>(0)
  init(jwks: String) { self.jwks = jwks }
  func fetchJWKS() async throws -> String {
    self.fetches.add(1, ordering: .relaxed)
    return self.jwks
  }
}

func measure(_ label: String, count: Int, concurrency: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
  let start = ContinuousClock.now
  try await withThrowingTaskGroup(of: Void.self) { group in
    for worker in 0..<concurrency {
      group.addTask {
        var index = worker
        while index < count {
          try await body(index)
          index += concurrency
        }
      }
    }
    try await group.waitForAll()
  }
  let elapsed = ContinuousClock.now - start
  let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
  let rate = Double(count) / seconds
  let padded = label.padding(toLength: 58, withPad: " ", startingAt: 0)
  print("  \(padded) \(String(format: "%10.0f", rate)) /s   (\(count) in \(String(format: "%.2f", seconds)) s, \(concurrency) concurrent)")
}

let environment = ProcessInfo.processInfo.environment
guard let url = environment["MAESTRO_DATABASE_URL"] else {
  FileHandle.standardError.write(Data("auth-bench: set MAESTRO_DATABASE_URL to the auth role's URL (make bench-auth does)\n".utf8))
  exit(2)
}
let scale = Int(environment["MAESTRO_BENCH_SCALE"] ?? "1") ?? 1
var logger = Logger(label: "auth-bench")
logger.logLevel = .warning
let database = Database(configuration: try DatabaseConfiguration(url: url, schema: "auth"), logger: logger)
var configuration = GatewayConfiguration(masterKey: .random())
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("auth-bench-\(UUID().uuidString)").path
configuration.bootstrapAdminPassword = "benchmark admin password"
configuration.bootstrapAdminPasswordFile = directory + "/admin.password"
configuration.bootstrapSecretsDirectory = directory + "/secrets"
configuration.sessionLimit.maximumSessions = 1_000_000
let runtime = GatewayRuntime(configuration: configuration, database: database, logger: logger)

try await withThrowingTaskGroup(of: Void.self) { group in
  group.addTask { await database.client.run() }
  defer { group.cancelAll() }
  try await runtime.prepare()
  let api = runtime.api
  let secret = try String(contentsOfFile: directory + "/secrets/scheduler.secret", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
  let cores = ProcessInfo.processInfo.activeProcessorCount
  print("auth-bench: release build, \(cores) cores, ES256, Postgres at \(database.configuration.host):\(database.configuration.port)")

  print("Issuance")
  let now = Date()
  try await measure("sign an access token (ES256, key ring)", count: 20_000 * scale, concurrency: 1) { index in
    _ = try await runtime.keyRing.sign(AccessTokenClaims(
      issuer: "maestro", subject: "u-\(index)", audience: ["maestro"], expiration: now.addingTimeInterval(900), issuedAt: now,
      notBefore: now, tokenID: "\(index)", sessionID: "s", tenant: "default", roles: ["viewer"], principalType: "user"))
  }
  try await measure("sign an access token (ES256, key ring)", count: 20_000 * scale, concurrency: cores) { index in
    _ = try await runtime.keyRing.sign(AccessTokenClaims(
      issuer: "maestro", subject: "u-\(index)", audience: ["maestro"], expiration: now.addingTimeInterval(900), issuedAt: now,
      notBefore: now, tokenID: "\(index)", sessionID: "s", tenant: "default", roles: ["viewer"], principalType: "user"))
  }
  let clientCredentials = Maestro_Auth_V1_TokenRequestBuilder.clientCredentials(id: "scheduler", secret: secret)
  for concurrency in [1, 8] {
    try await measure("POST token, client_credentials (auth + session row + sign)", count: 2_000 * scale, concurrency: concurrency) { _ in
      _ = try await api.token(clientCredentials, call: CallContext(clientAddress: "127.0.0.1"))
    }
  }
  let password = Maestro_Auth_V1_TokenRequestBuilder.password(username: "admin", password: "benchmark admin password")
  try await measure("POST token, password (scrypt N=32768 r=8 + session + sign)", count: 40 * scale, concurrency: cores) { _ in
    _ = try await api.token(password, call: CallContext(clientAddress: "127.0.0.1"))
  }

  print("Verification (MaestroKit TokenVerifier, what every backend runs)")
  let jwks = try await runtime.keyRing.fetchJWKS()
  let token = try await api.token(clientCredentials, call: CallContext()).accessToken
  let cachedFetcher = StaticJWKS(jwks: jwks)
  let cached = TokenVerifier(configuration: TokenVerificationConfiguration(jwks: .file("bench"), issuer: "maestro", audience: "maestro"), fetcher: cachedFetcher, logger: logger)
  for concurrency in [1, cores] {
    try await measure("verify, cached JWKS", count: 40_000 * scale, concurrency: concurrency) { _ in _ = try await cached.verify(token) }
  }
  var uncachedConfiguration = TokenVerificationConfiguration(jwks: .file("bench"), issuer: "maestro", audience: "maestro")
  uncachedConfiguration.maximumKeyAge = .zero
  uncachedConfiguration.minimumRefreshInterval = .zero
  let uncachedFetcher = StaticJWKS(jwks: jwks)
  let uncached = TokenVerifier(configuration: uncachedConfiguration, fetcher: uncachedFetcher, logger: logger)
  try await measure("verify, uncached JWKS (fetch + parse JWKS every time)", count: 10_000 * scale, concurrency: 1) { _ in _ = try await uncached.verify(token) }
  print("  (uncached: \(uncachedFetcher.fetches.load(ordering: .relaxed)) JWKS loads from memory; over HTTP add one round trip per token)")
  let guardCheck = SessionGuard(revocations: runtime.revocations, keyRing: runtime.keyRing)
  let principal = try await cached.verify(token)
  try await measure("gateway session guard (deny list + withdrawn kid)", count: 200_000 * scale, concurrency: 1) { _ in
    try guardCheck.check(principal: principal, token: token)
  }
}
try? FileManager.default.removeItem(atPath: directory)

enum Maestro_Auth_V1_TokenRequestBuilder {
  static func clientCredentials(id: String, secret: String) -> Maestro_Auth_V1_TokenRequest {
    var request = Maestro_Auth_V1_TokenRequest()
    request.grantType = "client_credentials"
    request.clientID = id
    request.clientSecret = secret
    return request
  }

  static func password(username: String, password: String) -> Maestro_Auth_V1_TokenRequest {
    var request = Maestro_Auth_V1_TokenRequest()
    request.grantType = "password"
    request.username = username
    request.password = password
    return request
  }
}
