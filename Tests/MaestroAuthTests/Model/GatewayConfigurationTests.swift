import Foundation
import MaestroAuth
import MaestroAuthModel
import MaestroKit
import Testing

@Suite("Gateway configuration from the environment")
struct GatewayConfigurationTests {
  static let key = Data(repeating: 7, count: 32).base64EncodedString()

  @Test("defaults: 15 min tokens, 24 h rotation, 7 day window, 5 sessions evicting the oldest")
  func defaults() throws {
    let configuration = try GatewayConfiguration.fromEnvironment(["MAESTRO_MASTER_KEY": Self.key], restPort: 8080)
    #expect(configuration.accessTokenLifetime == .seconds(900))
    #expect(configuration.keySchedule.rotationPeriod == .seconds(86_400))
    #expect(configuration.keySchedule.verificationWindow == .seconds(7 * 86_400))
    #expect(configuration.sessionLimit == SessionLimitPolicy(maximumSessions: 5, onLimit: .evictOldest))
    #expect(configuration.publicURL == "http://127.0.0.1:8080")
    #expect(configuration.masterKey.id.count == 16)
  }

  @Test("bad settings name the variable at fault", arguments: [
    ([:], "MAESTRO_MASTER_KEY"),
    (["MAESTRO_MASTER_KEY": "bm90IDMyIGJ5dGVz"], "MAESTRO_MASTER_KEY"),
    (["MAESTRO_MASTER_KEY": "%%%"], "MAESTRO_MASTER_KEY"),
    (["MAESTRO_MASTER_KEY_FILE": "/nonexistent/master.key"], "MAESTRO_MASTER_KEY_FILE"),
    (["MAESTRO_MASTER_KEY": key, "MAESTRO_SESSION_LIMIT_POLICY": "random"], "MAESTRO_SESSION_LIMIT_POLICY"),
    (["MAESTRO_MASTER_KEY": key, "MAESTRO_SESSION_LIMIT": "0"], "MAESTRO_SESSION_LIMIT"),
    (["MAESTRO_MASTER_KEY": key, "MAESTRO_KEY_VERIFICATION_WINDOW": "5m"], "MAESTRO_KEY_VERIFICATION_WINDOW"),
    (["MAESTRO_MASTER_KEY": key, "MAESTRO_OIDC_PROVIDERS_FILE": "/nonexistent/oidc.json"], "MAESTRO_OIDC_PROVIDERS_FILE"),
  ] as [([String: String], String)])
  func invalid(environment: [String: String], setting: String) {
    let error = #expect(throws: ConfigurationError.self) { try GatewayConfiguration.fromEnvironment(environment, restPort: 0) }
    #expect(error?.setting == setting)
  }

  @Test("the master key can come from a file; OIDC providers from JSON, refusing HMAC and none")
  func files() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-config-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let keyFile = directory.appendingPathComponent("master.key").path
    try (Self.key + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
    let providers = directory.appendingPathComponent("oidc.json").path
    try #"{"providers":[{"name":"okta","issuer":"https://example.okta.com","audience":"client","claim_mapping":{"groups_claim":"groups","group_roles":{"a":["viewer"]}}}]}"#
      .write(toFile: providers, atomically: true, encoding: .utf8)
    let configuration = try GatewayConfiguration.fromEnvironment(["MAESTRO_MASTER_KEY_FILE": keyFile, "MAESTRO_OIDC_PROVIDERS_FILE": providers], restPort: 1)
    #expect(configuration.oidcProviders.map(\.name) == ["okta"])
    #expect(configuration.oidcProviders[0].allowedAlgorithms == ["RS256", "ES256"])
    #expect(configuration.oidcProviders[0].resolvedDiscoveryURL == "https://example.okta.com/.well-known/openid-configuration")
    #expect(configuration.oidcProviders[0].claimMapping.groupRoles == ["a": ["viewer"]])

    try #"{"providers":[{"name":"x","issuer":"https://x","audience":"y","allowed_algorithms":["HS256"]}]}"#.write(toFile: providers, atomically: true, encoding: .utf8)
    #expect(throws: ConfigurationError.self) {
      try GatewayConfiguration.fromEnvironment(["MAESTRO_MASTER_KEY_FILE": keyFile, "MAESTRO_OIDC_PROVIDERS_FILE": providers], restPort: 1)
    }
  }
}
