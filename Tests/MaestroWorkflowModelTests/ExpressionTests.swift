import Foundation
import MaestroWorkflowModel
import Testing

@Suite("Expressions")
struct ExpressionTests {
  static let context = ExpressionContext(
    input: ["name": "Ada", "count": 3, "tags": ["a", "b"], "nested": ["deep": ["x": 1]], "flag": true],
    params: ["threshold": 0.8],
    steps: [
      "fetch": ["status": "COMPLETED", "output": ["items": [1, 2, 3], "url": "http://x"]],
      "fetch-data": ["status": "COMPLETED", "output": ["n": 7]],
    ],
    run: ["id": "r-1", "attempt": 1],
    now: Date(timeIntervalSince1970: 1_700_000_000)
  )

  static func eval(_ source: String) throws -> JSONValue {
    try ExpressionParser.parse(source).evaluate(in: self.context)
  }

  @Test(
    "evaluates paths, literals, operators and functions",
    arguments: [
      ("input.name", JSONValue.string("Ada")),
      ("input.count + 1", 4),
      ("input.count * 2 - 1", 5),
      ("(input.count + 1) * 2", 8),
      ("7 % 4", 3),
      ("-input.count", -3),
      ("input.missing", nil),
      ("input.nested.deep.x", 1),
      ("input.tags[1]", "b"),
      ("input.tags[-1]", "b"),
      ("input.tags[5]", nil),
      ("input['name']", "Ada"),
      ("steps.fetch.output.items[0]", 1),
      ("steps['fetch-data'].output.n", 7),
      ("steps.fetch-data.output.n", 7),
      ("steps.fetch.status == 'COMPLETED'", true),
      ("params.threshold >= 0.5 && input.flag", true),
      ("input.count > 5 || input.name == \"Ada\"", true),
      ("!input.flag", false),
      ("input.count < 3", false),
      ("'abc' < 'abd'", true),
      ("input.count == 3 ? 'three' : 'other'", "three"),
      ("length(input.tags)", 2),
      ("length(input.name)", 3),
      ("lower('ABC') + upper('def')", "abcDEF"),
      ("contains(input.tags, 'a')", true),
      ("contains(input.name, 'da')", true),
      ("contains(input.nested, 'deep')", true),
      ("default(input.missing, 'fallback')", "fallback"),
      ("default(input.name, 'fallback')", "Ada"),
      ("format('{} has {} tags', input.name, length(input.tags))", "Ada has 2 tags"),
      ("now()", "2023-11-14T22:13:20.000Z"),
      ("string(input.count) + '!'", "3!"),
      ("number('2.5') * 2", 5),
      ("join(input.tags, ',')", "a,b"),
      ("join(['a', null, 'b'], '-')", "a-b"),
      ("pluck([input.nested, null, input, 3], 'name')", [nil, nil, "Ada", nil]),
      ("keys(input.nested)", ["deep"]),
      ("[1, input.count, 'x']", [1, 3, "x"]),
      ("'a' + 1", "a1"),
      ("true && null", false),
    ] as [(String, JSONValue)]
  )
  func evaluates(source: String, expected: JSONValue) throws {
    #expect(try Self.eval(source) == expected)
  }

  @Test(
    "rejects bad syntax with a position",
    arguments: ["", "input.", "1 +", "(1", "input..name", "foo.bar", "nosuch(1)", "length()", "'unterminated", "1 # 2", "input.count ? 1"]
  )
  func syntaxErrors(source: String) {
    #expect(throws: ExpressionError.self) { try ExpressionParser.parse(source) }
  }

  @Test(
    "type errors are evaluation errors, not crashes",
    arguments: ["input.name - 1", "input.count < 'a'", "1 / 0", "lower(1)", "input.count.x", "input.tags[0.5]", "10 % 0", "1e308 * 10"]
  )
  func typeErrors(source: String) throws {
    #expect(throws: ExpressionError.self) { try Self.eval(source) }
  }

  @Test("nesting is bounded")
  func depthBound() {
    let deep = String(repeating: "(", count: 200) + "1" + String(repeating: ")", count: 200)
    #expect(throws: ExpressionError.self) { try ExpressionParser.parse(deep) }
    let long = String(repeating: "1+", count: 3000) + "1"
    #expect(throws: ExpressionError.self) { try ExpressionParser.parse(long) }
  }

  @Test("templates keep a single expression's type and interpolate otherwise")
  func templates() throws {
    #expect(try Template("${input.count}").evaluate(in: Self.context) == 3)
    #expect(try Template("n=${input.count}, tags=${input.tags}").evaluate(in: Self.context) == "n=3, tags=[\"a\",\"b\"]")
    #expect(try Template("plain").evaluate(in: Self.context) == "plain")
    #expect(try Template("cost: $${not} ${input.name}").evaluate(in: Self.context) == "cost: ${not} Ada")
    #expect(try Template("${ '}' + input.name }").evaluate(in: Self.context) == "}Ada")
    #expect(throws: ExpressionError.self) { try Template("${input.name") }
    let object: JSONValue = ["greeting": "hi ${input.name}", "list": ["${input.count}"], "n": 1]
    #expect(try object.evaluatingTemplates(in: Self.context) == ["greeting": "hi Ada", "list": [3], "n": 1])
  }

  @Test("referenced steps are found for upstream checks")
  func references() throws {
    let expression = try ExpressionParser.parse("steps.a.output.x + steps['b'].output.y + length(steps.c.output)")
    #expect(expression.referencedSteps == ["a", "b", "c"])
  }

  @Test("fuzz: random input never crashes the parser or evaluator")
  func fuzz() {
    var generator = SplitMix64(seed: 0x5EED)
    let alphabet = Array("abcinput.steps[]()'\"0123456789+-*/%<>=!&|?:, _${}len") + ["length", "default", "format", "input.count", "steps.fetch.output"].flatMap(Array.init)
    for _ in 0..<20_000 {
      let length = Int(generator.next() % 40)
      let source = String((0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
      if let expression = try? ExpressionParser.parse(source) {
        _ = try? expression.evaluate(in: Self.context)
      }
      _ = try? Template(source).evaluate(in: Self.context)
    }
  }
}

/// A small deterministic generator for fuzzing.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { self.state = seed }
  mutating func next() -> UInt64 {
    self.state &+= 0x9E37_79B9_7F4A_7C15
    var z = self.state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
