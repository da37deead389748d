import MaestroCore

/// Resolves a setting from, in order of precedence: a command-line flag, a `MAESTRO_*`
/// environment variable, and a documented default.
///
/// A value that is present but malformed is an error naming the flag or variable; it never
/// falls back silently to the default.
public struct ConfigurationResolver: Sendable {
  /// The environment to read `MAESTRO_*` variables from.
  public var environment: [String: String]

  public init(environment: [String: String]) {
    self.environment = environment
  }

  /// The flag's value if given, else the environment variable `key`, else `defaultValue`.
  public func resolve<Value: LosslessStringConvertible>(
    _ flag: Value?,
    env key: String,
    default defaultValue: Value
  ) throws(ConfigurationError) -> Value {
    try self.resolve(flag, env: key) ?? defaultValue
  }

  /// The flag's value if given, else the environment variable `key`, else `nil`.
  public func resolve<Value: LosslessStringConvertible>(
    _ flag: Value?,
    env key: String
  ) throws(ConfigurationError) -> Value? {
    if let flag { return flag }
    guard let raw = self.environment[key], !raw.isEmpty else { return nil }
    guard let value = Value(raw) else {
      throw ConfigurationError(setting: key, message: "cannot parse '\(raw)' as \(Value.self)")
    }
    return value
  }

  /// A duration setting (`250ms`, `10s`, `5m` …).
  public func resolveDuration(
    _ flag: String?,
    env key: String,
    default defaultValue: Duration
  ) throws(ConfigurationError) -> Duration {
    guard let text = try self.resolve(flag, env: key) as String? else { return defaultValue }
    do {
      return try DurationParser.parse(text)
    } catch {
      throw ConfigurationError(setting: key, message: error.description)
    }
  }
}

/// A setting that could not be resolved: which one and why.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
  /// The flag or environment variable at fault.
  public var setting: String
  public var message: String

  public init(setting: String, message: String) {
    self.setting = setting
    self.message = message
  }

  public var description: String { "configuration error in \(self.setting): \(self.message)" }
}
