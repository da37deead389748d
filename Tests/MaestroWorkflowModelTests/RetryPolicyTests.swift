import MaestroProtos
import MaestroWorkflowModel
import Testing

@Suite("Retry policy")
struct RetryPolicyTests {
  static let policy = RetryPolicy(
    maxAttempts: 5, initialBackoff: .seconds(1), multiplier: 2, maxBackoff: .seconds(5), jitter: 0.5,
    budgets: [.user: 1], nonRetryableTypes: ["fatal"]
  )

  @Test("backoff doubles and is capped; jitter spreads it both ways", arguments: [
    (1, 0.5, Duration.seconds(1)), (2, 0.5, .seconds(2)), (3, 0.5, .seconds(4)), (4, 0.5, .seconds(5)), (10, 0.5, .seconds(5)),
    (1, 0.0, .milliseconds(500)), (1, 1.0, .milliseconds(1500)),
  ])
  func backoff(attempt: Int, random: Double, expected: Duration) {
    #expect(Self.policy.delay(afterAttempt: attempt, random: random) == expected)
  }

  @Test("gives up on attempts, per-class budgets, non-retryable failures and types")
  func decisions() {
    let platform = StepFailure("x", errorClass: .platform)
    #expect(Self.policy.decide(attempt: 1, failure: platform, failuresOfClass: 1, random: 0.5) == .retry(after: .seconds(1)))
    if case .retry = Self.policy.decide(attempt: 5, failure: platform, failuresOfClass: 5, random: 0.5) { Issue.record("attempts exhausted") }
    let user = StepFailure("x", errorClass: .user)
    #expect(Self.policy.decide(attempt: 1, failure: user, failuresOfClass: 1, random: 0.5) == .retry(after: .seconds(1)))
    if case .retry = Self.policy.decide(attempt: 2, failure: user, failuresOfClass: 2, random: 0.5) { Issue.record("user budget is 1 retry") }
    if case .retry = Self.policy.decide(attempt: 1, failure: StepFailure("x", errorClass: .platform, nonRetryable: true), failuresOfClass: 1, random: 0.5) { Issue.record("non-retryable") }
    if case .retry = Self.policy.decide(attempt: 1, failure: StepFailure("x", errorClass: .platform, type: "fatal"), failuresOfClass: 1, random: 0.5) { Issue.record("fatal type") }
  }

  @Test("proto defaults: 3 attempts, 1 s, ×2, 5 min, ±20 %")
  func defaults() {
    let policy = RetryPolicy(Maestro_Workflow_V1_RetryPolicy())
    #expect(policy == .platformDefault)
  }
}
