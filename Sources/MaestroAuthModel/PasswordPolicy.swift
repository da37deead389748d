/// What a password must look like, and the scrypt cost new hashes are made with.
///
/// Length-based (NIST SP 800-63B): at least ``minimumLength`` characters, at most
/// ``maximumLength`` bytes (bounds the KDF's input), not all one repeated character, and not
/// the username itself. No composition rules.
public struct PasswordPolicy: Sendable, Hashable {
  public var minimumLength: Int
  public var maximumLength: Int
  public var scrypt: ScryptParameters

  /// 12 to 1024 characters; scrypt N=32768, r=8, p=1, 32-byte key.
  public init(minimumLength: Int = 12, maximumLength: Int = 1024, scrypt: ScryptParameters = .standard) {
    self.minimumLength = minimumLength
    self.maximumLength = maximumLength
    self.scrypt = scrypt
  }

  /// Why `password` is unacceptable for `username`, or nil when it is fine.
  public func violation(password: String, username: String) -> String? {
    if password.count < self.minimumLength {
      return "must be at least \(self.minimumLength) characters"
    }
    if password.utf8.count > self.maximumLength {
      return "must be at most \(self.maximumLength) bytes"
    }
    if let first = password.first, password.allSatisfy({ $0 == first }) {
      return "must not be one repeated character"
    }
    if !username.isEmpty, password.lowercased() == username.lowercased() {
      return "must not be the username"
    }
    return nil
  }

  /// Whether a hash made with `parameters` should be upgraded after a successful login.
  public func needsRehash(_ parameters: ScryptParameters) -> Bool {
    parameters.cost < self.scrypt.cost || parameters.keyLength < self.scrypt.keyLength
  }
}

/// The cost parameters of one scrypt hash (stored per user row).
public struct ScryptParameters: Sendable, Hashable {
  /// CPU/memory cost, a power of two.
  public var n: Int
  public var r: Int
  public var p: Int
  public var keyLength: Int

  public init(n: Int, r: Int, p: Int, keyLength: Int) {
    self.n = n
    self.r = r
    self.p = p
    self.keyLength = keyLength
  }

  /// N=2^15, r=8, p=1, 32 bytes: about 32 MiB and tens of milliseconds per hash.
  public static let standard = ScryptParameters(n: 32_768, r: 8, p: 1, keyLength: 32)

  /// A cheap setting for tests only (never for stored production hashes).
  public static let testing = ScryptParameters(n: 1_024, r: 8, p: 1, keyLength: 32)

  /// Relative work, for comparing settings.
  public var cost: Int { self.n * self.r * self.p }

  /// Whether the parameters are ones this gateway will compute (guards against a row that asks
  /// for absurd memory).
  public var isAcceptable: Bool {
    self.n > 1 && self.n & (self.n - 1) == 0 && self.n <= 1 << 20 && (1...32).contains(self.r)
      && (1...16).contains(self.p) && (16...64).contains(self.keyLength)
  }
}
