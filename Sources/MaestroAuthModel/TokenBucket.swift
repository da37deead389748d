/// A token bucket: holds at most ``Rate/burst`` tokens, refilled at ``Rate/perSecond``; each
/// request takes one. Pure value logic on a caller-supplied clock reading (seconds).
public struct TokenBucket: Sendable, Hashable {
  /// A sustained rate and the burst above it.
  public struct Rate: Sendable, Hashable, CustomStringConvertible {
    public var perSecond: Double
    public var burst: Double

    public init(perSecond: Double, burst: Double) {
      self.perSecond = perSecond
      self.burst = max(burst, 1)
    }

    /// Parses `RATE[:BURST]` (requests per second; the burst defaults to twice the rate).
    public static func parse(_ text: String) -> Rate? {
      let parts = text.split(separator: ":", omittingEmptySubsequences: false)
      guard (1...2).contains(parts.count), let rate = Double(parts[0]), rate > 0, rate.isFinite else { return nil }
      guard parts.count == 2 else { return Rate(perSecond: rate, burst: max(1, rate * 2)) }
      guard let burst = Double(parts[1]), burst >= 1, burst.isFinite else { return nil }
      return Rate(perSecond: rate, burst: burst)
    }

    public var description: String { "\(self.perSecond)/s burst \(self.burst)" }
  }

  public private(set) var rate: Rate
  public private(set) var tokens: Double
  public private(set) var updatedAt: Double

  /// A full bucket at time `now`.
  public init(rate: Rate, now: Double) {
    self.rate = rate
    self.tokens = rate.burst
    self.updatedAt = now
  }

  /// Takes one token if there is one; otherwise how long until there will be.
  public mutating func take(now: Double) -> Duration? {
    self.refill(now: now)
    if self.tokens >= 1 {
      self.tokens -= 1
      return nil
    }
    let seconds = (1 - self.tokens) / self.rate.perSecond
    return .milliseconds(Int64((seconds * 1000).rounded(.up)))
  }

  /// Puts back a token taken by ``take(now:)`` (when a later check refused the request).
  public mutating func giveBack() {
    self.tokens = min(self.rate.burst, self.tokens + 1)
  }

  /// Whether the bucket is full at `now` (and can be forgotten).
  public func isFull(now: Double) -> Bool {
    self.tokens + (now - self.updatedAt) * self.rate.perSecond >= self.rate.burst
  }

  /// Changes the rate (configuration or the principal's roles changed), keeping the tokens.
  public mutating func update(rate: Rate, now: Double) {
    guard rate != self.rate else { return }
    self.refill(now: now)
    self.rate = rate
    self.tokens = min(self.tokens, rate.burst)
  }

  private mutating func refill(now: Double) {
    if now > self.updatedAt {
      self.tokens = min(self.rate.burst, self.tokens + (now - self.updatedAt) * self.rate.perSecond)
      self.updatedAt = now
    }
  }
}
