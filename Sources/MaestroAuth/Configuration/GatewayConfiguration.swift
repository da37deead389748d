import Foundation
public import MaestroAuthModel
public import MaestroKit

/// The gateway's identity settings, on top of the ``ServiceConfiguration`` every service has.
/// Every field has a documented default and a `MAESTRO_*` variable (see the service README).
public struct GatewayConfiguration: Sendable {
  /// `iss` of issued tokens [MAESTRO_JWT_ISSUER, default maestro].
  public var issuer: String = "maestro"
  /// `aud` of issued tokens [MAESTRO_JWT_AUDIENCE, default maestro].
  public var audience: String = "maestro"
  /// Access-token lifetime [MAESTRO_ACCESS_TOKEN_TTL, default 15m].
  public var accessTokenLifetime: Duration = .seconds(900)
  /// Absolute session (and refresh-token) lifetime [MAESTRO_SESSION_TTL, default 12h].
  public var sessionLifetime: Duration = .seconds(12 * 3600)
  /// Signing-key rotation [MAESTRO_KEY_ROTATION_PERIOD, default 24h; MAESTRO_KEY_VERIFICATION_WINDOW, default 7d].
  public var keySchedule = KeyRotationSchedule()
  /// How often each replica re-reads the key set and checks the schedule [MAESTRO_KEY_CHECK_INTERVAL, default 60s].
  public var keyCheckInterval: Duration = .seconds(60)
  /// Concurrent sessions per user [MAESTRO_SESSION_LIMIT, default 5; MAESTRO_SESSION_LIMIT_POLICY, evict-oldest|reject-new].
  public var sessionLimit = SessionLimitPolicy()
  public var passwordPolicy = PasswordPolicy()
  public var userBackoff = LoginBackoffPolicy.perUser
  public var addressBackoff = LoginBackoffPolicy.perAddress
  /// The master key that encrypts signing keys at rest.
  public var masterKey: MasterKey
  /// Bootstrap: the admin's password [MAESTRO_BOOTSTRAP_ADMIN_PASSWORD]; else one is generated
  /// and written to ``bootstrapAdminPasswordFile`` [MAESTRO_BOOTSTRAP_ADMIN_PASSWORD_FILE,
  /// default .local/bootstrap-admin.password].
  public var bootstrapAdminPassword: String?
  public var bootstrapAdminPasswordFile: String = ".local/bootstrap-admin.password"
  /// Where the backends' service-account secrets are written, one `<name>.secret` file each
  /// [MAESTRO_BOOTSTRAP_SECRETS_DIR, default .local/secrets].
  public var bootstrapSecretsDirectory: String = ".local/secrets"
  /// External OIDC providers [MAESTRO_OIDC_PROVIDERS_FILE].
  public var oidcProviders: [OIDCProviderConfiguration] = []
  /// Public base URL of the REST port, used in the discovery document [MAESTRO_PUBLIC_URL, default http://127.0.0.1:<rest port>].
  public var publicURL: String = "http://127.0.0.1:8080"
  /// Backends, rate and size limits, TLS (see ``FrontDoorConfiguration``).
  public var frontDoor = FrontDoorConfiguration.localDefaults

  public init(masterKey: MasterKey) {
    self.masterKey = masterKey
  }

  /// Reads the settings from `environment` (see each property for its variable).
  public static func fromEnvironment(_ environment: [String: String], restPort: Int) throws(ConfigurationError) -> GatewayConfiguration {
    let env = ConfigurationResolver(environment: environment)
    let masterKey = try MasterKey.fromEnvironment(environment)
    var config = GatewayConfiguration(masterKey: masterKey)
    config.issuer = try env.resolve(nil as String?, env: "MAESTRO_JWT_ISSUER", default: "maestro")
    config.audience = try env.resolve(nil as String?, env: "MAESTRO_JWT_AUDIENCE", default: "maestro")
    config.accessTokenLifetime = try env.resolveDuration(nil, env: "MAESTRO_ACCESS_TOKEN_TTL", default: .seconds(900))
    config.sessionLifetime = try env.resolveDuration(nil, env: "MAESTRO_SESSION_TTL", default: .seconds(12 * 3600))
    config.keySchedule.rotationPeriod = try env.resolveDuration(nil, env: "MAESTRO_KEY_ROTATION_PERIOD", default: .seconds(86_400))
    config.keySchedule.verificationWindow = try env.resolveDuration(nil, env: "MAESTRO_KEY_VERIFICATION_WINDOW", default: .seconds(7 * 86_400))
    config.keyCheckInterval = try env.resolveDuration(nil, env: "MAESTRO_KEY_CHECK_INTERVAL", default: .seconds(60))
    guard config.keySchedule.verificationWindow >= config.accessTokenLifetime + .seconds(60) else {
      throw ConfigurationError(setting: "MAESTRO_KEY_VERIFICATION_WINDOW", message: "must be at least the access-token lifetime plus 60 s of leeway")
    }
    config.sessionLimit.maximumSessions = try env.resolve(nil as Int?, env: "MAESTRO_SESSION_LIMIT", default: 5)
    guard config.sessionLimit.maximumSessions >= 1 else {
      throw ConfigurationError(setting: "MAESTRO_SESSION_LIMIT", message: "must be at least 1")
    }
    let policy = try env.resolve(nil as String?, env: "MAESTRO_SESSION_LIMIT_POLICY", default: "evict-oldest")
    guard let onLimit = SessionLimitPolicy.OnLimit(rawValue: policy) else {
      throw ConfigurationError(setting: "MAESTRO_SESSION_LIMIT_POLICY", message: "expected evict-oldest or reject-new, got '\(policy)'")
    }
    config.sessionLimit.onLimit = onLimit
    config.bootstrapAdminPassword = environment["MAESTRO_BOOTSTRAP_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
    config.bootstrapAdminPasswordFile = try env.resolve(nil as String?, env: "MAESTRO_BOOTSTRAP_ADMIN_PASSWORD_FILE", default: ".local/bootstrap-admin.password")
    config.bootstrapSecretsDirectory = try env.resolve(nil as String?, env: "MAESTRO_BOOTSTRAP_SECRETS_DIR", default: ".local/secrets")
    config.publicURL = try env.resolve(nil as String?, env: "MAESTRO_PUBLIC_URL", default: "http://127.0.0.1:\(restPort)")
    config.frontDoor = try FrontDoorConfiguration.fromEnvironment(environment)
    if let file = environment["MAESTRO_OIDC_PROVIDERS_FILE"], !file.isEmpty {
      do {
        config.oidcProviders = try OIDCProviderConfiguration.load(path: file)
      } catch {
        throw ConfigurationError(setting: "MAESTRO_OIDC_PROVIDERS_FILE", message: "\(error)")
      }
    }
    return config
  }
}
