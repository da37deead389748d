/// Error-budget and burn-rate arithmetic, from counts alone (no I/O).
///
/// - SLI = good / total (1 when there were no events).
/// - Error budget (as a fraction of events) = 1 − objective.
/// - Consumed = (1 − SLI) / (1 − objective); remaining = 1 − consumed (negative once exceeded).
/// - Burn rate over a window = that window's error ratio / (1 − objective): 1 spends the budget
///   exactly over the SLO window.
/// - Time to exhaustion at burn rate b: the budget fraction spent per second is b / window, so
///   remaining × window / b.
enum SLOStatusCalculator {
  struct Budget: Sendable, Hashable {
    var total: Int64
    var good: Int64
    var sli: Double
    var objective: Double
    var budgetTotal: Double
    var consumed: Double
    var remaining: Double
    /// Bad events still allowed at the current volume (negative once exceeded).
    var remainingEvents: Int64
  }

  static func budget(good: Int64, total: Int64, objective: Double) -> Budget {
    let sli = total > 0 ? Double(good) / Double(total) : 1
    let allowed = 1 - objective
    let consumed = (1 - sli) / allowed
    let allowedBad = allowed * Double(total)
    let bad = Double(total - good)
    return Budget(
      total: total, good: good, sli: sli, objective: objective, budgetTotal: allowed, consumed: consumed,
      remaining: 1 - consumed, remainingEvents: Int64((allowedBad - bad).rounded(.down))
    )
  }

  /// Error ratio over a window divided by the allowed error ratio; 0 without events.
  static func burnRate(good: Int64, total: Int64, objective: Double) -> Double {
    guard total > 0 else { return 0 }
    return (Double(total - good) / Double(total)) / (1 - objective)
  }

  /// Seconds until the remaining budget is spent at `burnRate`; nil when nothing is burning or
  /// the budget is already gone.
  static func timeToExhaustion(remaining: Double, burnRate: Double, window: Duration) -> Double? {
    guard burnRate > 0, remaining > 0 else { return nil }
    return remaining * window.seconds / burnRate
  }
}
