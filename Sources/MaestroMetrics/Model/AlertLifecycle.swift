import Foundation

/// The alert state machine of one fingerprint, as a pure function of its current state, the
/// rule's condition at this evaluation and the clock (Prometheus semantics):
///
/// - no alert + condition → PENDING (or straight to FIRING when `for` is zero);
/// - PENDING + condition held for `for` → FIRING;
/// - PENDING + condition gone → RESOLVED without ever firing (no notification);
/// - FIRING + condition gone → RESOLVED (notify receivers that want resolutions);
/// - otherwise the alert stays as it is.
enum AlertLifecycle {
  enum State: String, Sendable, Hashable {
    case pending
    case firing
    case resolved
  }

  /// The open alert of a fingerprint, as far as the lifecycle needs it.
  struct Active: Sendable, Hashable {
    var state: State
    var pendingSince: Date

    init(state: State, pendingSince: Date) {
      self.state = state
      self.pendingSince = pendingSince
    }
  }

  enum Transition: Sendable, Hashable {
    /// Nothing changes (beyond the evaluation time and observed values).
    case none
    case openPending
    /// Open an alert that fires at once (`for` is zero).
    case openFiring
    case fire
    /// PENDING → RESOLVED: it never fired, so nobody is told.
    case cancelPending
    /// FIRING → RESOLVED.
    case resolve

    /// Whether receivers hear about it.
    var notifies: Bool {
      switch self {
      case .openFiring, .fire, .resolve: true
      case .none, .openPending, .cancelPending: false
      }
    }
  }

  static func next(active: Active?, condition: Bool, forDuration: Duration, now: Date) -> Transition {
    switch (active?.state, condition) {
    case (nil, false), (.resolved?, false): return .none
    case (nil, true), (.resolved?, true): return forDuration <= .zero ? .openFiring : .openPending
    case (.pending?, true):
      return now.timeIntervalSince(active!.pendingSince) >= forDuration.seconds ? .fire : .none
    case (.pending?, false): return .cancelPending
    case (.firing?, true): return .none
    case (.firing?, false): return .resolve
    }
  }
}
