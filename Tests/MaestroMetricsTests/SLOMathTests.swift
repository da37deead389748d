import Foundation
@testable import MaestroMetrics
import Testing

@Suite("Error budget and burn-rate arithmetic (hand-computed cases)")
struct SLOMathTests {
  @Test("99.9 % over 10,000 events with 5 bad: SLI 0.9995, half the budget spent, 5 bad events left")
  func halfBudget() {
    let budget = SLOStatusCalculator.budget(good: 9_995, total: 10_000, objective: 0.999)
    #expect(abs(budget.sli - 0.9995) < 1e-12)
    #expect(abs(budget.budgetTotal - 0.001) < 1e-12)
    #expect(abs(budget.consumed - 0.5) < 1e-9)
    #expect(abs(budget.remaining - 0.5) < 1e-9)
    #expect(budget.remainingEvents == 5)
  }

  @Test("an exceeded budget goes negative: 99 % with 3 % bad consumed 3x, remaining -2")
  func exceeded() {
    let budget = SLOStatusCalculator.budget(good: 97, total: 100, objective: 0.99)
    #expect(abs(budget.consumed - 3) < 1e-9)
    #expect(abs(budget.remaining - -2) < 1e-9)
    #expect(budget.remainingEvents == -2)
  }

  @Test("no events: SLI 1, nothing consumed")
  func empty() {
    let budget = SLOStatusCalculator.budget(good: 0, total: 0, objective: 0.999)
    #expect(budget.sli == 1)
    #expect(budget.consumed == 0)
    #expect(SLOStatusCalculator.burnRate(good: 0, total: 0, objective: 0.999) == 0)
  }

  @Test("burn rate = error ratio / allowed error ratio", arguments: [
    (good: Int64(986), total: Int64(1000), objective: 0.999, expected: 14.0),
    (good: 94, total: 100, objective: 0.99, expected: 6.0),
    (good: 999, total: 1000, objective: 0.999, expected: 1.0),
    (good: 50, total: 100, objective: 0.95, expected: 10.0),
  ])
  func burnRate(good: Int64, total: Int64, objective: Double, expected: Double) {
    #expect(abs(SLOStatusCalculator.burnRate(good: good, total: total, objective: objective) - expected) < 1e-9)
  }

  @Test("time to exhaustion: half a 30-day budget left at burn rate 10 lasts 1.5 days")
  func timeToExhaustion() throws {
    let seconds = try #require(SLOStatusCalculator.timeToExhaustion(remaining: 0.5, burnRate: 10, window: .seconds(30 * 86_400)))
    #expect(abs(seconds - 1.5 * 86_400) < 1e-6)
    #expect(SLOStatusCalculator.timeToExhaustion(remaining: 0.5, burnRate: 0, window: .seconds(86_400)) == nil)
    #expect(SLOStatusCalculator.timeToExhaustion(remaining: -0.1, burnRate: 2, window: .seconds(86_400)) == nil)
  }

  @Test("a status snapshot picks the SLO window for the budget and the shortest window for exhaustion")
  func snapshot() {
    let slo = SLODefinition(name: "a", filter: .init(kind: .run), good: .succeeded, objective: 0.99)
    var overall = OutcomeCounts()
    overall.total = 1000
    overall.success = 995
    overall.failed = 5
    var short = OutcomeCounts()
    short.total = 10
    short.success = 8
    short.failed = 2
    let windows = slo.statusWindows
    #expect(windows.first == .seconds(300))
    let counts = [overall] + windows.map { $0 == .seconds(300) ? short : OutcomeCounts() }
    let status = SLOStatusEngine.snapshot(slo: slo, windows: windows, counts: counts, now: Date())
    #expect(abs(status.budget.remaining - 0.5) < 1e-9)
    #expect(abs(status.burnRate(.seconds(300)) - 20) < 1e-9)
    // 0.5 of 30 days at 20x: 0.75 days.
    #expect(abs((status.timeToExhaustion ?? 0) - 0.75 * 86_400) < 1e-3)
  }

  @Test("histogram buckets: bounds are inclusive and +Inf catches the rest")
  func buckets() {
    #expect(LatencyHistogram.bucketIndex(milliseconds: 0) == 0)
    #expect(LatencyHistogram.bucketIndex(milliseconds: 1) == 0)
    #expect(LatencyHistogram.bucketIndex(milliseconds: 1.5) == 1)
    #expect(LatencyHistogram.bucketIndex(milliseconds: 30_000) == 13)
    #expect(LatencyHistogram.bucketIndex(milliseconds: 30_001) == 14)
    #expect(LatencyHistogram.bucketIndex(milliseconds: 4_000_000) == 20)
    #expect(LatencyHistogram.bucketsAtOrBelow(thresholdMilliseconds: 300_000) == 17)
    #expect(LatencyHistogram.bucketsAtOrBelow(thresholdMilliseconds: 299_000) == nil)
  }

  @Test("quantiles interpolate inside the bucket like histogram_quantile")
  func quantiles() throws {
    var histogram = LatencyHistogram()
    // 100 events in (1000, 2500] ms.
    for _ in 0..<100 { histogram.record(milliseconds: 2000) }
    #expect(abs(try #require(histogram.quantile(0.5)) - 1750) < 1e-9)
    #expect(abs(try #require(histogram.quantile(0.99)) - 2485) < 1e-9)
    #expect(LatencyHistogram().quantile(0.5) == nil)
  }

  @Test("the latency SLI counts events at or below the threshold bucket as good")
  func latencySLI() {
    let slo = SLODefinition(name: "fast", filter: .init(), good: .latencyBelow(milliseconds: 30_000), objective: 0.99)
    var counts = OutcomeCounts()
    counts.record(.success, durationMilliseconds: 29_000, slaMet: nil)
    counts.record(.success, durationMilliseconds: 30_000, slaMet: nil)
    counts.record(.failed(timedOut: false), durationMilliseconds: 31_000, slaMet: nil)
    let (good, total) = slo.goodAndTotal(counts)
    #expect(good == 2)
    #expect(total == 3)
  }
}
