/// What a fire does while a run this schedule started is still active (names as stored in
/// `scheduler.schedules.overlap_policy`).
public enum OverlapPolicy: String, Sendable, CaseIterable {
  /// Drop the new fire (recorded as skipped).
  case skip
  /// Keep at most one fire waiting; later ones are dropped while one waits.
  case bufferOne = "buffer_one"
  /// Keep every fire waiting; start them one by one in fire-time order.
  case bufferAll = "buffer_all"
  /// Cancel the active run(s), wait until they end, then start (at most one waiting).
  case cancelOther = "cancel_other"
  /// Cancel the active run(s) and start at once, without waiting.
  case terminateOther = "terminate_other"
  /// Start regardless; runs overlap.
  case allowAll = "allow_all"

  /// What to do with one fire.
  public enum Decision: Sendable, Hashable {
    case start
    case skip
    case buffer
    /// Cancel the active runs; the fire waits in the buffer until they have ended.
    case cancelActiveThenBuffer
    /// Cancel the active runs and start now.
    case cancelActiveAndStart
  }

  /// The decision for a fire given `activeRuns` runs of this schedule still going and
  /// `buffered` fires already waiting. Buffered fires keep their order: a new fire never
  /// overtakes them.
  public func decide(activeRuns: Int, buffered: Int) -> Decision {
    let busy = activeRuns > 0
    switch self {
    case .allowAll:
      return .start
    case .skip:
      return busy ? .skip : .start
    case .bufferOne:
      if buffered > 0 { return .skip }
      return busy ? .buffer : .start
    case .bufferAll:
      return busy || buffered > 0 ? .buffer : .start
    case .cancelOther:
      if buffered > 0 { return .skip }
      return busy ? .cancelActiveThenBuffer : .start
    case .terminateOther:
      return busy ? .cancelActiveAndStart : .start
    }
  }
}
