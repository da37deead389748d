public import Foundation

/// The signing-key lifecycle as a pure planner: given the keys and the time, it returns the
/// steps that bring the key set to where it should be. The store applies them in order, in one
/// transaction, under an advisory lock (so one replica rotates).
///
/// Lifecycle: `next` (published in the JWKS, not signing) → `active` (signs) → `retired`
/// (published for verification until `purgeAt`) → purged (deleted). Emergency rotation moves
/// a key to `revoked` at once (it leaves the JWKS) and makes a fresh key sign at once.
///
/// The next key is created as soon as a key becomes active, so it is published for a whole
/// rotation period before it signs: every verifier's cache (refreshed at least every few
/// minutes) knows it long before the first token it signs arrives.
public struct KeyRotationSchedule: Sendable, Hashable {
  /// How long a key signs (default 24 h).
  public var rotationPeriod: Duration
  /// How long a retired key stays in the JWKS after it stops signing (default 7 days). Must be
  /// at least the access-token lifetime plus leeway, so every token it signed can be verified.
  public var verificationWindow: Duration

  public init(rotationPeriod: Duration = .seconds(86_400), verificationWindow: Duration = .seconds(7 * 86_400)) {
    self.rotationPeriod = rotationPeriod
    self.verificationWindow = verificationWindow
  }

  public enum State: String, Sendable, Hashable {
    case next, active, retired, revoked
  }

  /// A key as the planner sees it (no key material).
  public struct Key: Sendable, Hashable {
    public var kid: String
    public var state: State
    public var activatesAt: Date
    public var retiresAt: Date?
    public var purgeAt: Date?
    public var revokedAt: Date?

    public init(kid: String, state: State, activatesAt: Date, retiresAt: Date? = nil, purgeAt: Date? = nil, revokedAt: Date? = nil) {
      self.kid = kid
      self.state = state
      self.activatesAt = activatesAt
      self.retiresAt = retiresAt
      self.purgeAt = purgeAt
      self.revokedAt = revokedAt
    }
  }

  /// One step of a plan.
  public enum Step: Sendable, Hashable {
    /// Generate a key in `state` (`.active` or `.next`).
    case create(state: State, activatesAt: Date, retiresAt: Date?)
    /// Promote the next key `kid` to active.
    case activate(kid: String, at: Date, retiresAt: Date)
    /// Stop signing with `kid`; it stays published until `purgeAt`.
    case retire(kid: String, at: Date, purgeAt: Date)
    /// Withdraw `kid` at once (emergency).
    case revoke(kid: String, at: Date)
    /// Delete `kid` (past its window).
    case purge(kid: String)
  }

  /// The steps due at `now` for the scheduled lifecycle (empty when nothing is due).
  public func plan(keys: [Key], now: Date) -> [Step] {
    var steps: [Step] = []
    var active = keys.first { $0.state == .active }
    var next = keys.first { $0.state == .next }

    if let current = active, let retiresAt = current.retiresAt, retiresAt <= now {
      steps.append(.retire(kid: current.kid, at: now, purgeAt: now + self.verificationWindow))
      active = nil
    }
    if active == nil {
      let retiresAt = now + self.rotationPeriod
      if let promoted = next {
        steps.append(.activate(kid: promoted.kid, at: now, retiresAt: retiresAt))
        next = nil
      } else {
        steps.append(.create(state: .active, activatesAt: now, retiresAt: retiresAt))
      }
      active = Key(kid: "", state: .active, activatesAt: now, retiresAt: retiresAt)
    }
    if next == nil, let activeRetires = active?.retiresAt {
      steps.append(.create(state: .next, activatesAt: activeRetires, retiresAt: nil))
    }
    for key in keys where key.state == .retired {
      if let purgeAt = key.purgeAt, purgeAt <= now { steps.append(.purge(kid: key.kid)) }
    }
    for key in keys where key.state == .revoked {
      if let revokedAt = key.revokedAt, revokedAt + self.verificationWindow <= now { steps.append(.purge(kid: key.kid)) }
    }
    return steps
  }

  /// The scheduled rotation forced now: the next key signs at once, the active one retires.
  public func planManualRotation(keys: [Key], now: Date) -> [Step] {
    var forced = keys
    for index in forced.indices where forced[index].state == .active {
      forced[index].retiresAt = now
    }
    return self.plan(keys: forced, now: now)
  }

  /// Emergency rotation: revoke `compromised` (it leaves the JWKS at once) and sign with a
  /// brand-new key at once. The current active key, if it is not the compromised one, retires
  /// normally (its tokens stay verifiable). Returns nil when `compromised` is not a published key.
  public func planEmergency(keys: [Key], compromised: String, now: Date) -> [Step]? {
    guard let target = keys.first(where: { $0.kid == compromised }), target.state != .revoked else { return nil }
    var steps: [Step] = [.revoke(kid: compromised, at: now)]
    if let active = keys.first(where: { $0.state == .active }), active.kid != compromised {
      steps.append(.retire(kid: active.kid, at: now, purgeAt: now + self.verificationWindow))
    }
    let retiresAt = now + self.rotationPeriod
    steps.append(.create(state: .active, activatesAt: now, retiresAt: retiresAt))
    let next = keys.first { $0.state == .next }
    if next == nil || next?.kid == compromised {
      steps.append(.create(state: .next, activatesAt: retiresAt, retiresAt: nil))
    }
    return steps
  }

  /// When the plan next has something to do (the earliest of the active key's retirement and
  /// the purges), so the rotation loop can sleep until then.
  public func nextDueDate(keys: [Key]) -> Date? {
    var dates: [Date] = []
    for key in keys {
      switch key.state {
      case .active: if let date = key.retiresAt { dates.append(date) }
      case .retired: if let date = key.purgeAt { dates.append(date) }
      case .revoked: if let date = key.revokedAt { dates.append(date + self.verificationWindow) }
      case .next: break
      }
    }
    return dates.min()
  }
}

extension Date {
  /// `self` moved by a Swift `Duration`.
  public static func + (lhs: Date, rhs: Duration) -> Date {
    let (seconds, attoseconds) = rhs.components
    return lhs.addingTimeInterval(TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18)
  }

  /// `self` moved back by a Swift `Duration`.
  public static func - (lhs: Date, rhs: Duration) -> Date {
    lhs + (.zero - rhs)
  }
}
