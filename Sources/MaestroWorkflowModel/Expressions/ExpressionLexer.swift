/// Splits expression source into tokens.
struct ExpressionLexer {
  enum Token: Equatable {
    case number(Double)
    case string(String)
    case identifier(String)
    case symbol(String)
    case end
  }

  struct Located: Equatable {
    var token: Token
    var offset: Int
  }

  static let symbols = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "(", ")", "[", "]", ".", ",", "?", ":"]

  static func tokenize(_ source: String) throws(ExpressionError) -> [Located] {
    let characters = Array(source)
    var tokens: [Located] = []
    var index = 0
    while index < characters.count {
      let character = characters[index]
      if character.isWhitespace {
        index += 1
        continue
      }
      let start = index
      if character.isNumber {
        while index < characters.count, characters[index].isNumber || characters[index] == "." || characters[index] == "e" || characters[index] == "E"
          || ((characters[index] == "+" || characters[index] == "-") && (characters[index - 1] == "e" || characters[index - 1] == "E"))
        {
          index += 1
        }
        guard let value = Double(String(characters[start..<index])), value.isFinite else {
          throw ExpressionError("invalid number '\(String(characters[start..<index]))'", offset: start)
        }
        tokens.append(Located(token: .number(value), offset: start))
      } else if character.isLetter || character == "_" {
        while index < characters.count, characters[index].isLetter || characters[index].isNumber || characters[index] == "_" || characters[index] == "-" {
          index += 1
        }
        // A trailing '-' belongs to a subtraction, not the name (`a-1` is a name "a-1" only if letters follow).
        while index > start + 1, characters[index - 1] == "-" { index -= 1 }
        tokens.append(Located(token: .identifier(String(characters[start..<index])), offset: start))
      } else if character == "'" || character == "\"" {
        index += 1
        var value = ""
        var closed = false
        while index < characters.count {
          let current = characters[index]
          if current == "\\", index + 1 < characters.count {
            let escaped = characters[index + 1]
            switch escaped {
            case "n": value.append("\n")
            case "t": value.append("\t")
            default: value.append(escaped)
            }
            index += 2
            continue
          }
          if current == character {
            closed = true
            index += 1
            break
          }
          value.append(current)
          index += 1
        }
        guard closed else { throw ExpressionError("unterminated string", offset: start) }
        tokens.append(Located(token: .string(value), offset: start))
      } else {
        let rest = String(characters[index..<min(index + 2, characters.count)])
        guard let symbol = Self.symbols.first(where: { rest.hasPrefix($0) }) else {
          throw ExpressionError("unexpected character '\(character)'", offset: start)
        }
        index += symbol.count
        tokens.append(Located(token: .symbol(symbol), offset: start))
      }
    }
    tokens.append(Located(token: .end, offset: characters.count))
    return tokens
  }
}
