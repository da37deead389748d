import Foundation
import MaestroWorkflowModel
import Testing

@Suite("Expression source rendering")
struct ExpressionSourceTests {
  @Test(
    "parse → render → parse gives the same expression",
    arguments: [
      "input.name",
      "steps.fetch-data.output.n",
      "steps['fetch-data'].output",
      "input.count + 1",
      "input.count * 2 - 1",
      "(input.count + 1) * 2",
      "input.a - (input.b - input.c)",
      "input.a - 1",
      "!(input.flag && false) || input.x == null",
      "-input.count",
      "-(input.count + 1)",
      "- -3",
      "input.flag ? 'yes' : 'no'",
      "(input.flag ? 1 : 2) + 3",
      "input.a ? input.b ? 1 : 2 : input.c ? 3 : 4",
      "(input.a ? input.b : input.c) ? input.d : input.e",
      "length(input.tags) >= 2 && contains(input.tags, 'a')",
      "format('{} of {}', input.count, length(input.tags))",
      "[1, 2.5, 'x', [true, null]][3][0]",
      "input.tags[-1]",
      "'it\\'s a \"quote\" \\\\ \\n tab\\t'",
      "\"}\" + '${not an expression}'",
      "default(steps.x.output, [])",
      "1e-7 * 3e+21",
      "now()",
      "(1).x",
    ] as [String]
  )
  func roundTrip(source: String) throws {
    let parsed = try ExpressionParser.parse(source)
    let rendered = try parsed.source()
    #expect(try ExpressionParser.parse(rendered) == parsed, "rendered as \(rendered)")
  }

  @Test("uses parentheses only where precedence needs them")
  func minimalParentheses() throws {
    #expect(try ExpressionParser.parse("((input.a + (input.b * input.c)))").source() == "input.a + input.b * input.c")
    #expect(try ExpressionParser.parse("(input.a + input.b) * input.c").source() == "(input.a + input.b) * input.c")
    #expect(try ExpressionParser.parse("input.a - (input.b - input.c)").source() == "input.a - (input.b - input.c)")
    #expect(try ExpressionParser.parse("(input.a - input.b) - input.c").source() == "input.a - input.b - input.c")
    #expect(try ExpressionParser.parse("!(input.a)").source() == "!input.a")
  }

  @Test(
    "literal values render to source that evaluates to the same value",
    arguments: [
      JSONValue.null, true, false, 0, 42, -7, 0.5, -0.25, 1e21, 1e-9, 123_456_789_012,
      "", "plain", "it's", "back\\slash", "line\nbreak\ttab", "${input.x} and }", "ünïcødé 🎉",
      ["a", 1, [false, nil], -2.5], [],
    ] as [JSONValue]
  )
  func literals(value: JSONValue) throws {
    let source = try Expression.literal(value).source()
    #expect(try ExpressionParser.parse(source).evaluate(in: ExpressionContext()) == value, "rendered as \(source)")
  }

  @Test("member names that are not identifiers render as an index; objects cannot be rendered")
  func edges() throws {
    let member = Expression.member(.variable("steps"), "fetch data")
    let source = try member.source()
    #expect(source == "steps['fetch data']")
    let context = ExpressionContext(steps: ["fetch data": ["status": "COMPLETED"]])
    #expect(try ExpressionParser.parse(source).evaluate(in: context) == member.evaluate(in: context))
    #expect(throws: ExpressionError.self) { try Expression.literal(["a": 1]).source() }
    #expect(throws: ExpressionError.self) { try Expression.literal([["a": 1]]).source() }
  }
}
