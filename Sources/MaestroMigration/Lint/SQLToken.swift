/// One lexical token of a SQL statement, as far as the linter and the schema model need: words
/// (keywords and unquoted identifiers, folded to lower case as Postgres does), quoted
/// identifiers (kept exact), string and numeric literals, and punctuation. Comments vanish.
struct SQLToken: Sendable, Equatable {
  enum Kind: Sendable, Equatable {
    case word
    case quotedIdentifier
    case string
    case number
    case punctuation
  }

  var kind: Kind
  /// Lower-cased for words; the identifier itself for quoted identifiers; the raw text otherwise.
  var text: String

  /// True for a word equal to `keyword` (compared case-insensitively).
  func `is`(_ keyword: String) -> Bool { self.kind == .word && self.text == keyword.lowercased() }

  /// The identifier this token names, if it can name one.
  var identifier: String? {
    switch self.kind {
    case .word, .quotedIdentifier: self.text
    default: nil
    }
  }

  /// Splits `sql` into tokens.
  static func tokenize(_ sql: String) -> [SQLToken] {
    let scalars = Array(sql.unicodeScalars)
    var tokens: [SQLToken] = []
    var index = 0
    func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
      scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "$"
    }
    while index < scalars.count {
      let scalar = scalars[index]
      let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil
      if scalar.properties.isWhitespace {
        index += 1
      } else if scalar == "-", next == "-" {
        while index < scalars.count, scalars[index] != "\n" { index += 1 }
      } else if scalar == "/", next == "*" {
        var depth = 0
        while index < scalars.count {
          if scalars[index] == "/", index + 1 < scalars.count, scalars[index + 1] == "*" {
            depth += 1
            index += 2
          } else if scalars[index] == "*", index + 1 < scalars.count, scalars[index + 1] == "/" {
            depth -= 1
            index += 2
            if depth == 0 { break }
          } else {
            index += 1
          }
        }
      } else if scalar == "'" || scalar == "\"" {
        let escapes = scalar == "'" && (tokens.last.map { $0.kind == .word && ($0.text == "e") } ?? false)
        var text = String.UnicodeScalarView()
        var cursor = index + 1
        while cursor < scalars.count {
          if escapes, scalars[cursor] == "\\", cursor + 1 < scalars.count {
            text.append(scalars[cursor + 1])
            cursor += 2
            continue
          }
          if scalars[cursor] == scalar {
            if cursor + 1 < scalars.count, scalars[cursor + 1] == scalar {
              text.append(scalar)
              cursor += 2
              continue
            }
            break
          }
          text.append(scalars[cursor])
          cursor += 1
        }
        if escapes { tokens.removeLast() }
        tokens.append(SQLToken(kind: scalar == "'" ? .string : .quotedIdentifier, text: String(text)))
        index = cursor + 1
      } else if scalar == "$", let end = Self.dollarTagEnd(scalars, from: index) {
        let tag = Array(scalars[index...end])
        var cursor = end + 1
        var closed = scalars.count
        while cursor + tag.count <= scalars.count {
          if Array(scalars[cursor..<(cursor + tag.count)]) == tag {
            closed = cursor
            break
          }
          cursor += 1
        }
        var body = String.UnicodeScalarView()
        body.append(contentsOf: scalars[(end + 1)..<closed])
        tokens.append(SQLToken(kind: .string, text: String(body)))
        index = min(closed + tag.count, scalars.count)
      } else if ("0"..."9").contains(scalar) {
        var cursor = index
        while cursor < scalars.count, ("0"..."9").contains(scalars[cursor]) || scalars[cursor] == "." { cursor += 1 }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars[index..<cursor])
        tokens.append(SQLToken(kind: .number, text: String(text)))
        index = cursor
      } else if isWordScalar(scalar) {
        var cursor = index
        while cursor < scalars.count, isWordScalar(scalars[cursor]) { cursor += 1 }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars[index..<cursor])
        tokens.append(SQLToken(kind: .word, text: String(text).lowercased()))
        index = cursor
      } else if scalar == ":", next == ":" {
        tokens.append(SQLToken(kind: .punctuation, text: "::"))
        index += 2
      } else {
        tokens.append(SQLToken(kind: .punctuation, text: String(scalar)))
        index += 1
      }
    }
    return tokens
  }

  private static func dollarTagEnd(_ scalars: [Unicode.Scalar], from start: Int) -> Int? {
    var cursor = start + 1
    while cursor < scalars.count {
      let scalar = scalars[cursor]
      if scalar == "$" { return cursor }
      guard scalar.properties.isAlphabetic || scalar == "_" || (cursor > start + 1 && ("0"..."9").contains(scalar)) else {
        return nil
      }
      cursor += 1
    }
    return nil
  }
}

extension Array where Element == SQLToken {
  /// True when the tokens from `start` are the words of `phrase` (space-separated).
  func matches(_ phrase: String, at start: Int) -> Bool {
    let words = phrase.split(separator: " ")
    guard start >= 0, start + words.count <= self.count else { return false }
    for (offset, word) in words.enumerated() where !self[start + offset].is(String(word)) { return false }
    return true
  }

  /// The index of the first occurrence of `phrase` at or after `start`, at parenthesis depth 0
  /// relative to `start`.
  func firstIndex(of phrase: String, from start: Int = 0, topLevel: Bool = true) -> Int? {
    var depth = 0
    var index = start
    while index < self.count {
      let token = self[index]
      if token.kind == .punctuation, token.text == "(" { depth += 1 }
      if token.kind == .punctuation, token.text == ")" { depth -= 1 }
      if (!topLevel || depth == 0), self.matches(phrase, at: index) { return index }
      index += 1
    }
    return nil
  }

  /// True when `phrase` occurs anywhere (at any depth).
  func contains(phrase: String) -> Bool { self.firstIndex(of: phrase, topLevel: false) != nil }

  /// Splits the tokens between the parenthesis opening at `open` and its match on top-level
  /// commas; returns the parts and the index after the closing parenthesis.
  func parenthesisedList(at open: Int) -> (items: [[SQLToken]], end: Int)? {
    guard open < self.count, self[open].kind == .punctuation, self[open].text == "(" else { return nil }
    var depth = 0
    var items: [[SQLToken]] = []
    var current: [SQLToken] = []
    var index = open
    while index < self.count {
      let token = self[index]
      if token.kind == .punctuation, token.text == "(" {
        depth += 1
        if depth == 1 {
          index += 1
          continue
        }
      } else if token.kind == .punctuation, token.text == ")" {
        depth -= 1
        if depth == 0 {
          if !current.isEmpty { items.append(current) }
          return (items, index + 1)
        }
      } else if token.kind == .punctuation, token.text == ",", depth == 1 {
        items.append(current)
        current = []
        index += 1
        continue
      }
      current.append(token)
      index += 1
    }
    return nil
  }

  /// Reads a possibly schema-qualified name at `start`: `(name, index after it)`. The schema
  /// part is dropped (migrations name objects of their own schema).
  func qualifiedName(at start: Int) -> (name: String, end: Int)? {
    guard start < self.count, let first = self[start].identifier else { return nil }
    if start + 2 < self.count, self[start + 1].kind == .punctuation, self[start + 1].text == ".",
      let second = self[start + 2].identifier
    {
      return (second, start + 3)
    }
    return (first, start + 1)
  }
}
