import MaestroWorkflowModel
import Testing

@Suite("JSON values")
struct JSONValueTests {
  @Test("text round-trips with sorted keys and integral numbers")
  func roundTrip() throws {
    let value: JSONValue = ["b": [1, 2.5, true, nil], "a": "x\"y\n\u{1}", "c": ["d": -3]]
    #expect(value.jsonText == #"{"a":"x\"y\n\u0001","b":[1,2.5,true,null],"c":{"d":-3}}"#)
    #expect(try JSONValue(jsonText: value.jsonText) == value)
    #expect(try JSONValue(jsonText: #" {"u": "\u00e9\ud83d\ude00"} "#) == ["u": "é😀"])
  }

  @Test("malformed JSON is an error", arguments: ["", "{", "[1,]", "{\"a\" 1}", "tru", "\"\\x\"", "1 2", "01a", String(repeating: "[", count: 300)])
  func malformed(text: String) {
    #expect(throws: JSONValueError.self) { try JSONValue(jsonText: text) }
  }

  @Test("protobuf Struct conversion round-trips")
  func protobuf() {
    let value: JSONValue = ["a": [1, "x", nil, false], "b": ["c": 2]]
    #expect(JSONValue(value.protobufStruct) == value)
  }
}
