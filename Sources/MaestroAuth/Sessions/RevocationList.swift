import Foundation
import Synchronization

/// The sessions this replica refuses: revoked sessions whose tokens could still be alive, by
/// sid, with the time after which they no longer matter. Fed at start from the database and
/// then by NOTIFY, so a revocation on any replica reaches every replica within milliseconds.
public final class RevocationList: Sendable {
  private let revoked = Mutex<[String: Date]>([:])

  public init() {}

  /// Whether `sid` is revoked.
  public func isRevoked(_ sid: String) -> Bool {
    self.revoked.withLock { $0[sid.lowercased()] != nil }
  }

  func insert(_ sid: String, until expiresAt: Date) {
    self.revoked.withLock { $0[sid.lowercased()] = expiresAt }
  }

  /// Replaces the whole list (after a (re)connect, when notifications may have been missed).
  func replace(with entries: [String: Date]) {
    self.revoked.withLock { state in
      for (sid, expiresAt) in entries { state[sid.lowercased()] = expiresAt }
    }
  }

  /// Forgets sessions that expired before `now` (their tokens are dead anyway).
  func prune(now: Date) {
    self.revoked.withLock { state in state = state.filter { $0.value > now } }
  }

  var count: Int { self.revoked.withLock { $0.count } }
}

/// The NOTIFY channel of the gateway's invalidations and its payloads.
enum GatewayNotification: Sendable, Equatable {
  case sessionRevoked(sid: String, expiresAt: Date)
  case keysChanged

  static let channel = "maestro_auth_events"

  var payload: String {
    switch self {
    case .sessionRevoked(let sid, let expiresAt): "session \(sid) \(Int64(expiresAt.timeIntervalSince1970))"
    case .keysChanged: "keys"
    }
  }

  init?(payload: String) {
    let parts = payload.split(separator: " ")
    if parts.first == "keys" {
      self = .keysChanged
    } else if parts.count == 3, parts[0] == "session", let seconds = Int64(parts[2]) {
      self = .sessionRevoked(sid: String(parts[1]), expiresAt: Date(timeIntervalSince1970: TimeInterval(seconds)))
    } else {
      return nil
    }
  }
}
