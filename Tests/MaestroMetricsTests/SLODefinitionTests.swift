import Foundation
import MaestroCore
@testable import MaestroMetrics
import MaestroProtos
import Testing

@Suite("SLO definitions: validation, OpenSLO YAML, defaults")
struct SLODefinitionTests {
  @Test("an OpenSLO document becomes the same SLO the API would create")
  func openSLO() throws {
    let yaml = """
      apiVersion: openslo/v1
      kind: SLO
      metadata:
        name: hello-world-availability
        labels: {team: platform}
      spec:
        description: hello-world runs succeed
        timeWindow: [{duration: 7d, isRolling: true}]
        objectives: [{target: 0.995}]
        indicator:
          spec:
            maestro: {kind: run, workflow: hello-world, good: succeeded, excludeCancelled: true}
        alerting:
          windows:
            - {name: page, severity: critical, burnRate: 10, longWindow: 1h, shortWindow: 5m, for: 2m}
      ---
      apiVersion: openslo/v1
      kind: SLO
      metadata: {name: fast}
      spec:
        objectives: [{targetPercent: 99}]
        indicator: {spec: {maestro: {kind: run, good: latency_below, latencyThreshold: 30s}}}
      """
    let slos = try SLODefinition.parseOpenSLO(yaml)
    #expect(slos.count == 2)
    let first = slos[0]
    #expect(first.name == "hello-world-availability")
    #expect(first.filter == .init(kind: .run, workflow: "hello-world"))
    #expect(first.good == .succeeded)
    #expect(first.excludeCancelled)
    #expect(abs(first.objective - 0.995) < 1e-12)
    #expect(first.window == .seconds(7 * 86_400))
    #expect(first.labels == ["team": "platform"])
    #expect(first.alerting.rules == [.init(name: "page", severity: .critical, burnRate: 10, longWindow: .seconds(3600), shortWindow: .seconds(300), forDuration: .seconds(120))])
    #expect(slos[1].good == .latencyBelow(milliseconds: 30_000))
    #expect(slos[1].window == .seconds(30 * 86_400))
    // Round trip through the proto (the stored form).
    #expect(try SLODefinition(proto: first.proto) == first)
  }

  @Test("bad input names the field", arguments: [
    ("name", "slo.name"),
    ("objective", "slo.objective_percent"),
    ("threshold", "slo.sli.latency_threshold"),
    ("condition", "slo.sli.good_condition"),
    ("window", "slo.window"),
    ("rule", "slo.alerting.windows[0].short_window"),
  ])
  func invalid(case: String, field: String) {
    var proto = SLODefinition(name: "ok", filter: .init(kind: .run), good: .succeeded, objective: 0.99).proto
    switch `case` {
    case "name": proto.name = "Bad Name"
    case "objective": proto.objectivePercent = 100
    case "threshold":
      proto.sli.goodCondition = .latencyBelowThreshold
      proto.sli.latencyThreshold = .init(seconds: 29)
    case "condition": proto.sli.goodCondition = .unspecified
    case "window": proto.window = .init(seconds: 91 * 86_400)
    default:
      proto.alerting.windows = [.with {
        $0.name = "r"
        $0.severity = .critical
        $0.burnRate = 2
        $0.longWindow = .init(seconds: 3600)
        $0.shortWindow = .init(seconds: 7200)
      }]
    }
    #expect {
      try SLODefinition(proto: proto)
    } throws: { error in
      (error as? MaestroError)?.field == field && (error as? MaestroError)?.code == .invalidArgument
    }
  }

  @Test("the shipped defaults are valid and mirror the platform's targets")
  func defaults() throws {
    let names = SLODefaults.all.map(\.name)
    #expect(names == ["platform-availability", "workflow-success-rate", "workflow-duration-p95", "hello-world-within-30s", "hello-case-within-5m"])
    for slo in SLODefaults.all { #expect(try SLODefinition(proto: slo.proto) == slo) }
    #expect(SLODefaults.all[0].objective == 0.999)
    #expect(SLODefaults.all[3].good == .latencyBelow(milliseconds: 30_000))
  }
}
