/// The fixed duration histogram of the `metrics` schema: 21 non-cumulative buckets whose upper
/// bounds (inclusive, in milliseconds) are listed in migration 0001 and in the column comments.
///
/// Bucket `i` (0-based here, `[i + 1]` in SQL) counts only the events in its own bucket, so
/// merging two histograms is an element-wise sum.
public struct LatencyHistogram: Sendable, Hashable {
  /// Upper bounds in milliseconds; the last bucket (+Inf) has no bound here.
  public static let upperBoundsMilliseconds: [Double] = [
    1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000,
    600000, 1_800_000, 3_600_000,
  ]
  public static let bucketCount = 21

  public var counts: [Int64]

  public init() { self.counts = Array(repeating: 0, count: Self.bucketCount) }

  public init(counts: [Int64]) {
    precondition(counts.count == Self.bucketCount, "a latency histogram has 21 buckets")
    self.counts = counts
  }

  /// The bucket (0-based) a duration of `milliseconds` falls into.
  public static func bucketIndex(milliseconds: Double) -> Int {
    // Binary search over 20 bounds: the first bound >= the value.
    var low = 0
    var high = Self.upperBoundsMilliseconds.count
    while low < high {
      let mid = (low + high) / 2
      if milliseconds <= Self.upperBoundsMilliseconds[mid] { high = mid } else { low = mid + 1 }
    }
    return low
  }

  /// The number of buckets whose upper bound is `<= milliseconds`, when `milliseconds` is exactly
  /// a bound; nil otherwise (a latency threshold must be a bound to be read off exactly).
  public static func bucketsAtOrBelow(thresholdMilliseconds: Double) -> Int? {
    Self.upperBoundsMilliseconds.firstIndex(of: thresholdMilliseconds).map { $0 + 1 }
  }

  public mutating func record(milliseconds: Double) {
    self.counts[Self.bucketIndex(milliseconds: milliseconds)] += 1
  }

  public mutating func merge(_ other: LatencyHistogram) {
    for index in 0..<Self.bucketCount { self.counts[index] += other.counts[index] }
  }

  public var total: Int64 { self.counts.reduce(0, +) }

  /// Events in the first `buckets` buckets (durations at or below that bucket's bound).
  public func count(inFirst buckets: Int) -> Int64 {
    self.counts.prefix(buckets).reduce(0, +)
  }

  /// The `q`-quantile (0...1) in milliseconds, interpolated linearly inside its bucket as
  /// Prometheus' `histogram_quantile` does. An answer in the +Inf bucket is the highest bound.
  /// nil when the histogram is empty.
  public func quantile(_ q: Double) -> Double? {
    let total = self.total
    guard total > 0 else { return nil }
    let rank = q * Double(total)
    var cumulative: Int64 = 0
    for index in 0..<Self.bucketCount {
      let previous = cumulative
      cumulative += self.counts[index]
      guard Double(cumulative) >= rank, self.counts[index] > 0 else { continue }
      guard index < Self.upperBoundsMilliseconds.count else { return Self.upperBoundsMilliseconds.last! }
      let lower = index == 0 ? 0 : Self.upperBoundsMilliseconds[index - 1]
      let upper = Self.upperBoundsMilliseconds[index]
      let fraction = (rank - Double(previous)) / Double(self.counts[index])
      return lower + (upper - lower) * max(0, min(1, fraction))
    }
    return Self.upperBoundsMilliseconds.last!
  }
}
