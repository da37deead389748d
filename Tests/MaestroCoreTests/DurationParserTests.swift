import MaestroCore
import Testing

@Suite("DurationParser")
struct DurationParserTests {
  @Test(
    "parses units and combinations",
    arguments: [
      ("250ms", Duration.milliseconds(250)),
      ("10s", .seconds(10)),
      ("5m", .seconds(300)),
      ("1h30m", .seconds(5400)),
      ("2d", .seconds(172_800)),
      ("1.5s", .milliseconds(1500)),
      ("42", .seconds(42)),
      (" 3s ", .seconds(3)),
      ("0", .zero),
    ]
  )
  func parses(text: String, expected: Duration) throws {
    #expect(try DurationParser.parse(text) == expected)
  }

  @Test("rejects malformed input with a reason", arguments: ["", "s", "10x", "-5s", "5 m", "1e400", "4000d"])
  func rejects(text: String) {
    #expect(throws: DurationParser.Failure.self) { try DurationParser.parse(text) }
  }
}
