/// What happens when a user who already has the maximum number of live sessions logs in again.
public struct SessionLimitPolicy: Sendable, Hashable {
  public enum OnLimit: String, Sendable, Hashable, CaseIterable {
    /// Refuse the new login.
    case rejectNew = "reject-new"
    /// Revoke the oldest live sessions to make room.
    case evictOldest = "evict-oldest"
  }

  /// Maximum concurrent live sessions per user (default 5).
  public var maximumSessions: Int
  public var onLimit: OnLimit

  public init(maximumSessions: Int = 5, onLimit: OnLimit = .evictOldest) {
    self.maximumSessions = maximumSessions
    self.onLimit = onLimit
  }

  /// The decision for a new login.
  public enum Admission: Sendable, Hashable {
    /// Create the session, after revoking `evicting` (oldest first).
    case admit(evicting: [String])
    /// Refuse the login.
    case reject
  }

  /// Decides a new login given the user's live sessions' ids, oldest first.
  public func admit(liveSessionsOldestFirst live: [String]) -> Admission {
    let excess = live.count + 1 - self.maximumSessions
    guard excess > 0 else { return .admit(evicting: []) }
    switch self.onLimit {
    case .rejectNew: return .reject
    case .evictOldest: return .admit(evicting: Array(live.prefix(excess)))
    }
  }
}
