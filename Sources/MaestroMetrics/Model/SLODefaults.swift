/// The SLOs every tenant gets unless it already has one of the same name: the platform's own
/// targets (99.9 % availability, workflow P95 under 5 min, workflow success above 99 %,
/// hello-world within 30 s, hello-case within 5 min). They can be changed or deleted like any
/// other SLO; startup never overwrites them.
public enum SLODefaults {
  public static let all: [SLODefinition] = [
    SLODefinition(
      name: "platform-availability",
      description: "Gateway requests answered without a server error (5xx).",
      filter: .init(kind: .request), good: .notServerError, objective: 0.999,
      alerting: .init(annotations: ["summary": "The API is failing requests faster than its 99.9 % availability target allows."])
    ),
    SLODefinition(
      name: "workflow-success-rate",
      description: "Workflow runs that succeed (cancelled runs count neither way).",
      filter: .init(kind: .run), good: .succeeded, excludeCancelled: true, objective: 0.99,
      alerting: .init(annotations: ["summary": "Workflow runs are failing faster than the 99 % success target allows."])
    ),
    SLODefinition(
      name: "workflow-duration-p95",
      description: "95 % of workflow runs finish within 5 minutes.",
      filter: .init(kind: .run), good: .latencyBelow(milliseconds: 300_000), objective: 0.95
    ),
    SLODefinition(
      name: "hello-world-within-30s",
      description: "hello-world runs finish within 30 s.",
      filter: .init(kind: .run, workflow: "hello-world"), good: .latencyBelow(milliseconds: 30_000), objective: 0.99
    ),
    SLODefinition(
      name: "hello-case-within-5m",
      description: "hello-case runs finish within 5 minutes.",
      filter: .init(kind: .run, workflow: "hello-case"), good: .latencyBelow(milliseconds: 300_000), objective: 0.99
    ),
  ]
}
