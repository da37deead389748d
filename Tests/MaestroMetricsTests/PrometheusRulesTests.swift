import Foundation
@testable import MaestroMetrics
import MaestroTestSupport
import Testing

@Suite("Prometheus rules export, checked by promtool")
struct PrometheusRulesTests {
  static let availability = SLODefinition(
    name: "hello-availability", filter: .init(kind: .run, workflow: "hello-world"), good: .succeeded, objective: 0.999,
    alerting: .init(labels: ["team": "platform"]))

  /// promtool from Debian's prometheus package (`make test` installs it when missing).
  static func promtool() throws -> String {
    for candidate in [ProcessInfo.processInfo.environment["MAESTRO_PROMTOOL"], "/usr/bin/promtool", "/usr/local/bin/promtool"].compactMap({ $0 })
    where FileManager.default.isExecutableFile(atPath: candidate) {
      return candidate
    }
    throw TestSetupError("promtool not found: run `make test` (it installs Debian's prometheus package) or set MAESTRO_PROMTOOL")
  }

  static func run(_ tool: String, _ arguments: [String], in directory: URL) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test("the rendered rules pass `promtool check rules`, and `promtool test rules` fires the page alert on an error burst only")
  func promtoolChecksAndTests() throws {
    let tool = try Self.promtool()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-rules-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let rules = PrometheusRules.render([("default", Self.availability)] + SLODefaults.all.map { ("default", $0) })
    try rules.write(to: directory.appendingPathComponent("rules.yaml"), atomically: true, encoding: .utf8)
    let check = try Self.run(tool, ["check", "rules", "rules.yaml"], in: directory)
    #expect(check.status == 0, "\(check.output)\n\(rules)")

    let rule = SLODefinition.BurnRateRule.defaults[0]
    let labels = PrometheusRules.alertLabels(Self.availability, tenant: "default", rule: rule)
    let annotations = PrometheusRules.annotations(Self.availability, rule: rule)
    func map(_ values: [String: String]) -> String {
      "{" + values.sorted { $0.key < $1.key }.map { "\($0.key): \(PrometheusRules.quote($0.value))" }.joined(separator: ", ") + "}"
    }
    let series = #"maestro_outcomes_total{tenant="default",kind="run",workflow="hello-world",route="",step_id="",result="%@"}"#
    let test = """
      rule_files: [rules.yaml]
      evaluation_interval: 1m
      tests:
        - interval: 1m
          input_series:
            - series: '\(String(format: series, "success"))'
              values: '0+100x180'
            - series: '\(String(format: series, "failed"))'
              values: '0+0x90 0+20x90'
          alert_rule_test:
            - eval_time: 80m
              alertname: \(PrometheusRules.alertName(Self.availability.name, rule.name))
              exp_alerts: []
            - eval_time: 150m
              alertname: \(PrometheusRules.alertName(Self.availability.name, rule.name))
              exp_alerts:
                - exp_labels: \(map(labels))
                  exp_annotations: \(map(annotations))
          promql_expr_test:
            - expr: slo:sli_error:ratio_rate5m{slo="hello-availability"} > bool 0.16
              eval_time: 150m
              exp_samples:
                - labels: '{slo="hello-availability",tenant="default"}'
                  value: 1
      """
    try test.write(to: directory.appendingPathComponent("test.yaml"), atomically: true, encoding: .utf8)
    let result = try Self.run(tool, ["test", "rules", "test.yaml"], in: directory)
    #expect(result.status == 0, "\(result.output)")
  }

  @Test("windows use Prometheus duration syntax and alert names are valid identifiers")
  func syntax() {
    #expect(PrometheusRules.promDuration(.seconds(300)) == "5m")
    #expect(PrometheusRules.promDuration(.seconds(3 * 86_400)) == "3d")
    #expect(PrometheusRules.promDuration(.seconds(5400)) == "90m")
    #expect(PrometheusRules.alertName("hello-world.v2", "page-fast") == "SLOBurnRate_hello_world_v2_page_fast")
    #expect(PrometheusRules.number(1 - 0.999) == "0.001")
  }
}
