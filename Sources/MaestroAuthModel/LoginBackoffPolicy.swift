/// Brute-force protection for the password grant: after ``freeFailures`` consecutive failures,
/// each further failure locks the key (a username or a client address) for an exponentially
/// growing time, capped at ``maximumLock``. A success resets the per-user state.
public struct LoginBackoffPolicy: Sendable, Hashable {
  public var freeFailures: Int
  public var baseLock: Duration
  public var maximumLock: Duration

  /// Per user: 5 free failures, then 1 s, 2 s, 4 s … up to 15 min.
  public static let perUser = LoginBackoffPolicy(freeFailures: 5, baseLock: .seconds(1), maximumLock: .seconds(900))
  /// Per client address: more lenient (NAT, shared proxies): 20 free failures.
  public static let perAddress = LoginBackoffPolicy(freeFailures: 20, baseLock: .seconds(1), maximumLock: .seconds(900))

  public init(freeFailures: Int, baseLock: Duration, maximumLock: Duration) {
    self.freeFailures = freeFailures
    self.baseLock = baseLock
    self.maximumLock = maximumLock
  }

  /// How long to lock after the `failures`-th consecutive failure (zero while still free).
  public func lockDuration(afterFailures failures: Int) -> Duration {
    let over = failures - self.freeFailures
    guard over > 0 else { return .zero }
    let exponent = min(over - 1, 30)
    let seconds = self.baseLock.components.seconds << exponent
    let lock = Duration.seconds(seconds)
    return lock > self.maximumLock ? self.maximumLock : lock
  }
}
