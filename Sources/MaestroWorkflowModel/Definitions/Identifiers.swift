/// The lexical rules for names in definitions (hand-written: cheaper than regexes, and
/// `Regex` is not `Sendable`).
enum Identifiers {
  private static func ascii(_ character: Character, _ ranges: [ClosedRange<Character>], _ extra: Set<Character>) -> Bool {
    character.isASCII && (ranges.contains { $0.contains(character) } || extra.contains(character))
  }

  private static func matches(
    _ text: String,
    first: [ClosedRange<Character>], firstExtra: Set<Character>,
    rest: [ClosedRange<Character>], restExtra: Set<Character>,
    maxLength: Int
  ) -> Bool {
    guard let head = text.first, text.count <= maxLength, ascii(head, first, firstExtra) else { return false }
    return text.dropFirst().allSatisfy { ascii($0, rest, restExtra) }
  }

  /// `[a-z0-9][a-z0-9._-]{0,127}`
  static func isWorkflowName(_ text: String) -> Bool {
    matches(text, first: ["a"..."z", "0"..."9"], firstExtra: [], rest: ["a"..."z", "0"..."9"], restExtra: [".", "_", "-"], maxLength: 128)
  }

  /// `[A-Za-z_][A-Za-z0-9_-]{0,62}`
  static func isStepID(_ text: String) -> Bool {
    matches(text, first: ["a"..."z", "A"..."Z"], firstExtra: ["_"], rest: ["a"..."z", "A"..."Z", "0"..."9"], restExtra: ["_", "-"], maxLength: 63)
  }

  /// `[A-Za-z_][A-Za-z0-9_]*`
  static func isParameterName(_ text: String) -> Bool {
    matches(text, first: ["a"..."z", "A"..."Z"], firstExtra: ["_"], rest: ["a"..."z", "A"..."Z", "0"..."9"], restExtra: ["_"], maxLength: 128)
  }
}
