public import Foundation
import Synchronization

/// Wall-clock time for token and key lifetimes: injectable so tests move time without sleeping.
public protocol AuthClock: Sendable {
  func now() -> Date
}

/// The system clock.
public struct SystemAuthClock: AuthClock {
  public init() {}
  public func now() -> Date { Date() }
}

/// A clock tests set and advance by hand.
public final class ManualAuthClock: AuthClock {
  private let current: Mutex<Date>

  public init(_ start: Date = Date()) { self.current = Mutex(start) }

  public func now() -> Date { self.current.withLock { $0 } }

  public func advance(by duration: Duration) {
    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    self.current.withLock { $0 = $0.addingTimeInterval(seconds) }
  }
}
