import MaestroSchedulerModel
import Testing

@Suite("Overlap decisions and catch-up planning")
struct DuePlanTests {
  @Test("each overlap policy's decision with and without an active run or a waiting fire")
  func overlap() {
    typealias D = OverlapPolicy.Decision
    let table: [(OverlapPolicy, idle: D, busy: D, busyBuffered: D)] = [
      (.skip, .start, .skip, .skip),
      (.bufferOne, .start, .buffer, .skip),
      (.bufferAll, .start, .buffer, .buffer),
      (.cancelOther, .start, .cancelActiveThenBuffer, .skip),
      (.terminateOther, .start, .cancelActiveAndStart, .cancelActiveAndStart),
      (.allowAll, .start, .start, .start),
    ]
    for (policy, idle, busy, busyBuffered) in table {
      #expect(policy.decide(activeRuns: 0, buffered: 0) == idle, "\(policy)")
      #expect(policy.decide(activeRuns: 1, buffered: 0) == busy, "\(policy)")
      #expect(policy.decide(activeRuns: 2, buffered: 1) == busyBuffered, "\(policy)")
    }
    // A waiting fire keeps its place: a new fire of BUFFER_ALL queues behind it.
    #expect(OverlapPolicy.bufferAll.decide(activeRuns: 0, buffered: 1) == .buffer)
  }

  @Test("after downtime: fires inside the catch-up window start, older ones are missed")
  func catchUp() throws {
    let fireSpec = try spec(["* * * * *"])
    let first = utc("2025-06-01T10:00:00Z")
    let now = (first + 30 * 60 + 10) * 1000  // 10:30:10, down since before 10:00
    let plan = DuePlan(spec: fireSpec, scheduleKey: "k", first: first, nowMilliseconds: now, catchupWindowMilliseconds: 5 * 60_000)
    // 10:00 … 10:25 missed (26), 10:26 … 10:30 started (5).
    #expect(plan.missedCount == 26)
    #expect(plan.missed.first == first && plan.missed.last == first + 25 * 60)
    #expect(plan.fires.map(\.nominal) == (26...30).map { first + Int64($0) * 60 })
    #expect(plan.fires.last?.trigger == .catchup)
    #expect(plan.next == first + 31 * 60)
    let onTime = DuePlan(spec: fireSpec, scheduleKey: "k", first: first, nowMilliseconds: first * 1000 + 200, catchupWindowMilliseconds: 60_000)
    #expect(onTime.fires.map(\.trigger) == [.schedule])
    #expect(onTime.next == first + 60)
  }

  @Test("a year-long outage of a per-minute schedule is planned in bounded work")
  func longOutage() throws {
    let fireSpec = try spec(["* * * * *"])
    let first = utc("2024-06-01T00:00:00Z")
    let now = utc("2025-06-01T00:00:30Z") * 1000
    let plan = DuePlan(spec: fireSpec, scheduleKey: "k", first: first, nowMilliseconds: now, catchupWindowMilliseconds: 60_000)
    #expect(plan.missed.count == DuePlan.maximumRecordedMisses)
    #expect(plan.missedCount >= 10_000)
    #expect(plan.fires.map(\.nominal) == [utc("2025-06-01T00:00:00Z")])
  }
}
