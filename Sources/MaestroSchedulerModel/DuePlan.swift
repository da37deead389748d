/// Which nominal fire times of a schedule are due at `now`, and what becomes of them: started
/// (on time, or late within the catch-up window) or missed (older than the window). Pure, so
/// every replica and every retry plans the same fires.
public struct DuePlan: Sendable, Hashable {
  public enum Trigger: String, Sendable, Hashable {
    /// On time: acted on within ``DuePlan/lateThreshold`` of its due time.
    case schedule
    /// Late (after downtime) but within the catch-up window.
    case catchup
  }

  public struct Fire: Sendable, Hashable {
    /// Nominal fire time, Unix seconds.
    public var nominal: Int64
    /// Due time (nominal + jitter), Unix milliseconds.
    public var dueMilliseconds: Int64
    public var trigger: Trigger
  }

  /// Fires to act on, oldest first.
  public var fires: [Fire] = []
  /// Missed fire times (newest ``maximumRecordedMisses`` at most), oldest first.
  public var missed: [Int64] = []
  /// How many fires were missed in all (≥ `missed.count`).
  public var missedCount = 0
  /// The next nominal fire time after this plan; nil when the spec has no more.
  public var next: Int64?

  /// A fire acted on later than this after its due time counts as a catch-up.
  public static let lateThreshold: Int64 = 5_000
  /// Missed fires recorded one by one; beyond this they are only counted.
  public static let maximumRecordedMisses = 100
  /// Fires started by one plan at most (a longer backlog continues in the next tick).
  public static let maximumFires = 1_000

  /// Plans the fires of `spec` from nominal `first` up to `nowMilliseconds`.
  public init(spec: FireSpec, scheduleKey: String, first: Int64?, nowMilliseconds: Int64, catchupWindowMilliseconds: Int64) {
    var nominal = first
    let oldestStartable = nowMilliseconds - catchupWindowMilliseconds
    var steps = 0
    while let current = nominal {
      let due = current * 1000 + Jitter.delay(scheduleKey: scheduleKey, fireTime: current, jitterMilliseconds: spec.jitterMilliseconds)
      guard due <= nowMilliseconds, self.fires.count < Self.maximumFires else { break }
      steps += 1
      if due < oldestStartable {
        self.missedCount += 1
        self.missed.append(current)
        if self.missed.count > Self.maximumRecordedMisses { self.missed.removeFirst() }
        if steps >= 10_000 {
          // A long outage of a frequent schedule: jump to the window instead of walking it.
          let resume = (oldestStartable - spec.jitterMilliseconds).floorDivided(by: 1000) - 1
          if resume > current {
            nominal = spec.nextFire(after: resume)
            continue
          }
        }
      } else {
        self.fires.append(Fire(nominal: current, dueMilliseconds: due, trigger: nowMilliseconds - due > Self.lateThreshold ? .catchup : .schedule))
      }
      nominal = spec.nextFire(after: current)
    }
    self.next = nominal
  }
}
