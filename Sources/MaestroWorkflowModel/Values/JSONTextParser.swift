/// A strict RFC 8259 JSON parser over UTF-8 bytes, producing ``JSONValue``.
struct JSONTextParser {
  private let bytes: [UInt8]
  private var index = 0
  private var depth = 0
  static let maximumDepth = 256

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  mutating func parseDocument() throws(JSONValueError) -> JSONValue {
    let value = try self.parseValue()
    self.skipWhitespace()
    guard self.index == self.bytes.count else { throw self.error("trailing characters") }
    return value
  }

  private func error(_ message: String) -> JSONValueError {
    JSONValueError(message: "invalid JSON at byte \(self.index): \(message)")
  }

  private mutating func skipWhitespace() {
    while self.index < self.bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(self.bytes[self.index]) { self.index += 1 }
  }

  private mutating func parseValue() throws(JSONValueError) -> JSONValue {
    self.skipWhitespace()
    guard self.index < self.bytes.count else { throw self.error("unexpected end") }
    switch self.bytes[self.index] {
    case UInt8(ascii: "{"): return try self.nested { (parser: inout Self) throws(JSONValueError) in try parser.parseObject() }
    case UInt8(ascii: "["): return try self.nested { (parser: inout Self) throws(JSONValueError) in try parser.parseArray() }
    case UInt8(ascii: "\""): return .string(try self.parseString())
    case UInt8(ascii: "t"): try self.literal("true"); return .bool(true)
    case UInt8(ascii: "f"): try self.literal("false"); return .bool(false)
    case UInt8(ascii: "n"): try self.literal("null"); return .null
    default: return .number(try self.parseNumber())
    }
  }

  private mutating func nested(_ body: (inout Self) throws(JSONValueError) -> JSONValue) throws(JSONValueError) -> JSONValue {
    self.depth += 1
    guard self.depth <= Self.maximumDepth else { throw self.error("nested deeper than \(Self.maximumDepth)") }
    defer { self.depth -= 1 }
    return try body(&self)
  }

  private mutating func literal(_ word: String) throws(JSONValueError) {
    let expected = Array(word.utf8)
    guard self.index + expected.count <= self.bytes.count,
      Array(self.bytes[self.index..<(self.index + expected.count)]) == expected
    else { throw self.error("expected \(word)") }
    self.index += expected.count
  }

  private mutating func parseObject() throws(JSONValueError) -> JSONValue {
    self.index += 1
    var members: [String: JSONValue] = [:]
    self.skipWhitespace()
    if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "}") {
      self.index += 1
      return .object(members)
    }
    while true {
      self.skipWhitespace()
      guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else { throw self.error("expected a key") }
      let key = try self.parseString()
      self.skipWhitespace()
      guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ":") else { throw self.error("expected ':'") }
      self.index += 1
      members[key] = try self.parseValue()
      self.skipWhitespace()
      guard self.index < self.bytes.count else { throw self.error("unterminated object") }
      if self.bytes[self.index] == UInt8(ascii: ",") { self.index += 1; continue }
      if self.bytes[self.index] == UInt8(ascii: "}") { self.index += 1; return .object(members) }
      throw self.error("expected ',' or '}'")
    }
  }

  private mutating func parseArray() throws(JSONValueError) -> JSONValue {
    self.index += 1
    var values: [JSONValue] = []
    self.skipWhitespace()
    if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "]") {
      self.index += 1
      return .array(values)
    }
    while true {
      values.append(try self.parseValue())
      self.skipWhitespace()
      guard self.index < self.bytes.count else { throw self.error("unterminated list") }
      if self.bytes[self.index] == UInt8(ascii: ",") { self.index += 1; continue }
      if self.bytes[self.index] == UInt8(ascii: "]") { self.index += 1; return .array(values) }
      throw self.error("expected ',' or ']'")
    }
  }

  private mutating func parseString() throws(JSONValueError) -> String {
    self.index += 1
    var scalars = String.UnicodeScalarView()
    var run: [UInt8] = []
    func flush(_ run: inout [UInt8], into scalars: inout String.UnicodeScalarView) {
      if !run.isEmpty { scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars); run.removeAll() }
    }
    while self.index < self.bytes.count {
      let byte = self.bytes[self.index]
      switch byte {
      case UInt8(ascii: "\""):
        self.index += 1
        flush(&run, into: &scalars)
        return String(scalars)
      case UInt8(ascii: "\\"):
        flush(&run, into: &scalars)
        self.index += 1
        guard self.index < self.bytes.count else { throw self.error("unterminated escape") }
        let escape = self.bytes[self.index]
        self.index += 1
        switch escape {
        case UInt8(ascii: "\""): scalars.append("\"")
        case UInt8(ascii: "\\"): scalars.append("\\")
        case UInt8(ascii: "/"): scalars.append("/")
        case UInt8(ascii: "b"): scalars.append("\u{08}")
        case UInt8(ascii: "f"): scalars.append("\u{0C}")
        case UInt8(ascii: "n"): scalars.append("\n")
        case UInt8(ascii: "r"): scalars.append("\r")
        case UInt8(ascii: "t"): scalars.append("\t")
        case UInt8(ascii: "u"):
          var code = try self.hex4()
          if (0xD800...0xDBFF).contains(code) {
            guard self.index + 1 < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\\"), self.bytes[self.index + 1] == UInt8(ascii: "u") else {
              throw self.error("unpaired surrogate")
            }
            self.index += 2
            let low = try self.hex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw self.error("invalid surrogate pair") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
          }
          guard let scalar = Unicode.Scalar(code) else { throw self.error("invalid code point") }
          scalars.append(scalar)
        default:
          throw self.error("invalid escape")
        }
      case 0..<0x20:
        throw self.error("control character in string")
      default:
        run.append(byte)
        self.index += 1
      }
    }
    throw self.error("unterminated string")
  }

  private mutating func hex4() throws(JSONValueError) -> UInt32 {
    guard self.index + 4 <= self.bytes.count else { throw self.error("short \\u escape") }
    var value: UInt32 = 0
    for byte in self.bytes[self.index..<(self.index + 4)] {
      guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { throw self.error("bad \\u escape") }
      value = value * 16 + UInt32(digit)
    }
    self.index += 4
    return value
  }

  private mutating func parseNumber() throws(JSONValueError) -> Double {
    let start = self.index
    let allowed: Set<UInt8> = Set("+-0123456789.eE".utf8)
    while self.index < self.bytes.count, allowed.contains(self.bytes[self.index]) { self.index += 1 }
    let text = String(decoding: self.bytes[start..<self.index], as: UTF8.self)
    guard !text.isEmpty, text.first != "+", let value = Double(text), value.isFinite else {
      self.index = start
      throw self.error("unexpected character")
    }
    return value
  }
}
