/// Splits a SQL script into statements, as `psql` would: on semicolons outside string literals
/// (`'…'`, `E'…'`, dollar-quoted `$tag$…$tag$`), quoted identifiers and comments (`--`, nested
/// `/* */`). Each statement keeps the line it starts on, for error messages and lint findings.
///
/// Needed because postgres-nio speaks only the extended query protocol, which runs one
/// statement per query.
public enum SQLStatementSplitter {
  /// One statement of a script.
  public struct Statement: Sendable, Equatable {
    /// The statement's text, trimmed, without its terminating semicolon.
    public var text: String
    /// 1-based line of the statement's first non-blank character.
    public var line: Int
  }

  /// The statements of `script`; statements that are only comments are dropped.
  public static func split(_ script: String) -> [Statement] {
    let scalars = Array(script.unicodeScalars)
    var statements: [Statement] = []
    var current = String.UnicodeScalarView()
    var hasCode = false
    var line = 1
    var startLine = 1
    var index = 0

    func flush() {
      let text = String(current).trimmingCharacters()
      if hasCode, !text.isEmpty { statements.append(Statement(text: text, line: startLine)) }
      current = String.UnicodeScalarView()
      hasCode = false
    }

    func append(_ range: Range<Int>, code: Bool) {
      for scalar in scalars[range] {
        // Comments and blank space before a statement's first token are not part of it.
        if !code, !hasCode {
          if scalar == "\n" { line += 1 }
          continue
        }
        if code, !hasCode, !scalar.properties.isWhitespace {
          hasCode = true
        }
        current.append(scalar)
        if scalar == "\n" { line += 1 }
      }
    }

    while index < scalars.count {
      let scalar = scalars[index]
      let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil
      if !hasCode, !scalar.properties.isWhitespace, !(scalar == "-" && next == "-"), !(scalar == "/" && next == "*") {
        startLine = line
      }
      switch scalar {
      case "-" where next == "-":
        let end = scalars[index...].firstIndex(of: "\n") ?? scalars.count
        append(index..<end, code: false)
        index = end
      case "/" where next == "*":
        var depth = 0
        var cursor = index
        while cursor < scalars.count {
          if scalars[cursor] == "/", cursor + 1 < scalars.count, scalars[cursor + 1] == "*" {
            depth += 1
            cursor += 2
          } else if scalars[cursor] == "*", cursor + 1 < scalars.count, scalars[cursor + 1] == "/" {
            depth -= 1
            cursor += 2
            if depth == 0 { break }
          } else {
            cursor += 1
          }
        }
        append(index..<min(cursor, scalars.count), code: false)
        index = min(cursor, scalars.count)
      case "'", "\"":
        let backslashEscapes = scalar == "'" && index > 0 && (scalars[index - 1] == "E" || scalars[index - 1] == "e")
        var cursor = index + 1
        while cursor < scalars.count {
          if backslashEscapes, scalars[cursor] == "\\" {
            cursor += 2
            continue
          }
          if scalars[cursor] == scalar {
            if cursor + 1 < scalars.count, scalars[cursor + 1] == scalar {
              cursor += 2
              continue
            }
            break
          }
          cursor += 1
        }
        let end = min(cursor + 1, scalars.count)
        append(index..<end, code: true)
        index = end
      case "$":
        if let tagEnd = self.dollarTagEnd(scalars, from: index) {
          let tag = Array(scalars[index...tagEnd])
          var cursor = tagEnd + 1
          var closed = scalars.count
          while cursor + tag.count <= scalars.count {
            if Array(scalars[cursor..<(cursor + tag.count)]) == tag {
              closed = cursor + tag.count
              break
            }
            cursor += 1
          }
          append(index..<closed, code: true)
          index = closed
        } else {
          append(index..<(index + 1), code: true)
          index += 1
        }
      case ";":
        flush()
        index += 1
      default:
        append(index..<(index + 1), code: true)
        index += 1
      }
    }
    flush()
    return statements
  }

  /// If a dollar-quote tag (`$$` or `$name$`) starts at `start`, the index of its closing `$`.
  private static func dollarTagEnd(_ scalars: [Unicode.Scalar], from start: Int) -> Int? {
    if start > 0 {
      let previous = scalars[start - 1]
      // `$1` parameters and identifiers containing `$` are not quotes.
      if previous.properties.isAlphabetic || ("0"..."9").contains(previous) || previous == "_" { return nil }
    }
    var cursor = start + 1
    while cursor < scalars.count {
      let scalar = scalars[cursor]
      if scalar == "$" { return cursor }
      let isTagCharacter = scalar.properties.isAlphabetic || scalar == "_" || (cursor > start + 1 && ("0"..."9").contains(scalar))
      guard isTagCharacter else { return nil }
      cursor += 1
    }
    return nil
  }
}

extension String {
  fileprivate func trimmingCharacters() -> String {
    var view = Substring(self)
    while let first = view.first, first.isWhitespace { view = view.dropFirst() }
    while let last = view.last, last.isWhitespace { view = view.dropLast() }
    return String(view)
  }
}
