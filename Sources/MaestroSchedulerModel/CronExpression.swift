/// One parsed cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6
/// (seconds first), with `*`, `?`, ranges `a-b`, steps `*/n` `a-b/n` `a/n`, lists `a,b`, month
/// and day names (`JAN`, `MON`), `L` in day-of-month (last day), `nL` (last weekday n of the
/// month) and `n#k` (k-th weekday n) in day-of-week; or a macro (`@yearly`, `@annually`,
/// `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`).
///
/// Day-of-month and day-of-week combine like Vixie cron: when both fields are restricted (neither
/// starts with `*` or `?`) a day matches if *either* matches; otherwise both must match.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
  /// The text as written.
  public let source: String
  var seconds: BitSet
  var minutes: BitSet
  var hours: BitSet
  var daysOfMonth: BitSet
  var months: BitSet
  var daysOfWeek: BitSet
  /// `L` in day-of-month.
  var lastDayOfMonth = false
  /// `nL` in day-of-week: weekdays whose last occurrence in the month matches.
  var lastWeekdays = BitSet()
  /// `n#k` in day-of-week, as (weekday, k).
  var nthWeekdays: [NthWeekday] = []
  var dayOfMonthStar: Bool
  var dayOfWeekStar: Bool
  /// Whether the expression has a seconds field (else it fires at second 0).
  public let hasSeconds: Bool

  struct NthWeekday: Sendable, Hashable {
    var weekday: Int
    var ordinal: Int
  }

  public var description: String { self.source }

  static let macros: [String: String] = [
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
  ]

  static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
  static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

  /// Parses `text`; throws ``SpecError`` naming the field and what was expected.
  public init(parsing text: String) throws(SpecError) {
    let trimmed = text.trimmingSpaces()
    guard !trimmed.isEmpty else { throw SpecError("is empty") }
    guard trimmed.utf8.count <= 256 else { throw SpecError("is longer than 256 characters") }
    var body = trimmed
    if trimmed.hasPrefix("@") {
      guard let expansion = Self.macros[trimmed.lowercased()] else {
        throw SpecError("unknown macro '\(trimmed.prefix(32))' (use @yearly, @monthly, @weekly, @daily, @hourly or @every <duration>)")
      }
      body = expansion
    }
    let fields = body.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    guard fields.count == 5 || fields.count == 6 else {
      throw SpecError("has \(fields.count) fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)")
    }
    self.source = trimmed
    self.hasSeconds = fields.count == 6
    let offset = self.hasSeconds ? 1 : 0
    self.seconds = self.hasSeconds ? try Self.parseField(fields[0], .second) : BitSet(0)
    self.minutes = try Self.parseField(fields[offset], .minute)
    self.hours = try Self.parseField(fields[offset + 1], .hour)
    let domText = fields[offset + 2].uppercased()
    let dowText = fields[offset + 4].uppercased()
    self.dayOfMonthStar = domText.hasPrefix("*") || domText.hasPrefix("?")
    self.dayOfWeekStar = dowText.hasPrefix("*") || dowText.hasPrefix("?")
    self.months = try Self.parseField(fields[offset + 3], .month)
    self.daysOfMonth = BitSet()
    self.daysOfWeek = BitSet()
    for item in domText.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
      if item == "L" {
        self.lastDayOfMonth = true
      } else {
        self.daysOfMonth.formUnion(try Self.parseField(item, .dayOfMonth))
      }
    }
    for item in dowText.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
      if item.hasSuffix("L"), item.count > 1 {
        let day = try Self.value(String(item.dropLast()), .dayOfWeek)
        self.lastWeekdays.insert(day % 7)
      } else if let hash = item.firstIndex(of: "#") {
        let day = try Self.value(String(item[..<hash]), .dayOfWeek)
        guard let ordinal = Int(item[item.index(after: hash)...]), (1...5).contains(ordinal) else {
          throw SpecError("day-of-week: '\(item.prefix(16))': the number after # must be 1 to 5")
        }
        self.nthWeekdays.append(NthWeekday(weekday: day % 7, ordinal: ordinal))
      } else {
        var days = try Self.parseField(item, .dayOfWeek)
        if days.contains(7) { days.insert(0) }  // 7 is Sunday too.
        days.remove(7)
        self.daysOfWeek.formUnion(days)
      }
    }
    if self.nextMatch(after: CivilTime(year: 2000, month: 1, day: 1).seconds - 1, limitYears: 9) == nil {
      throw SpecError("never matches a date (e.g. day 30 of February)")
    }
  }

  enum Field: String {
    case second, minute, hour, dayOfMonth = "day-of-month", month, dayOfWeek = "day-of-week"

    var range: ClosedRange<Int> {
      switch self {
      case .second, .minute: 0...59
      case .hour: 0...23
      case .dayOfMonth: 1...31
      case .month: 1...12
      case .dayOfWeek: 0...7
      }
    }
  }

  /// A comma list of `*`, `?`, `n`, `a-b`, each optionally `/step`.
  static func parseField(_ text: String, _ field: Field) throws(SpecError) -> BitSet {
    var set = BitSet()
    let items = text.split(separator: ",", omittingEmptySubsequences: false)
    for itemText in items {
      let item = String(itemText).uppercased()
      guard !item.isEmpty else { throw SpecError("\(field.rawValue): empty list item in '\(text.prefix(32))'") }
      var rangePart = item
      var step = 1
      if let slash = item.firstIndex(of: "/") {
        rangePart = String(item[..<slash])
        guard let parsed = Int(item[item.index(after: slash)...]), parsed >= 1, parsed <= field.range.upperBound else {
          throw SpecError("\(field.rawValue): step in '\(item.prefix(32))' must be a number from 1 to \(field.range.upperBound)")
        }
        step = parsed
      }
      let low: Int
      var high: Int
      if rangePart == "*" || rangePart == "?" {
        low = field.range.lowerBound
        high = field == .dayOfWeek ? 6 : field.range.upperBound
      } else if let dash = rangePart.firstIndex(of: "-"), dash != rangePart.startIndex {
        low = try Self.value(String(rangePart[..<dash]), field)
        high = try Self.value(String(rangePart[rangePart.index(after: dash)...]), field)
        guard low <= high else {
          throw SpecError("\(field.rawValue): range '\(rangePart.prefix(32))' runs backwards (start must not exceed end)")
        }
      } else {
        low = try Self.value(rangePart, field)
        // `a/n` means a, a+n, … up to the field's maximum.
        high = item.contains("/") ? (field == .dayOfWeek ? 6 : field.range.upperBound) : low
      }
      var value = low
      while value <= high {
        set.insert(value)
        value += step
      }
    }
    return set
  }

  /// One number or name in `field`.
  static func value(_ text: String, _ field: Field) throws(SpecError) -> Int {
    let upper = text.uppercased()
    if field == .month, let index = Self.monthNames.firstIndex(of: upper) { return index + 1 }
    if field == .dayOfWeek, let index = Self.dayNames.firstIndex(of: upper) { return index }
    guard let number = Int(upper), field.range.contains(number) else {
      let names = field == .month ? " or JAN-DEC" : field == .dayOfWeek ? " or SUN-SAT" : ""
      throw SpecError("\(field.rawValue): '\(text.prefix(16))' is not \(field.range.lowerBound)-\(field.range.upperBound)\(names)")
    }
    return number
  }
}

/// A set of small non-negative integers (< 64).
struct BitSet: Sendable, Hashable {
  var bits: UInt64 = 0

  init() {}
  init(_ value: Int) { self.bits = 1 << UInt64(value) }

  func contains(_ value: Int) -> Bool { value >= 0 && value < 64 && self.bits & (1 << UInt64(value)) != 0 }
  mutating func insert(_ value: Int) { self.bits |= 1 << UInt64(value) }
  mutating func remove(_ value: Int) { self.bits &= ~(1 << UInt64(value)) }
  mutating func formUnion(_ other: BitSet) { self.bits |= other.bits }
  var isEmpty: Bool { self.bits == 0 }

  /// The smallest member ≥ `value`, if any.
  func next(from value: Int) -> Int? {
    guard value < 64 else { return nil }
    let masked = self.bits & (~0 << UInt64(max(0, value)))
    return masked == 0 ? nil : masked.trailingZeroBitCount
  }
}

extension String {
  func trimmingSpaces() -> String {
    var view = Substring(self)
    while let first = view.first, first.isWhitespace { view = view.dropFirst() }
    while let last = view.last, last.isWhitespace { view = view.dropLast() }
    return String(view)
  }
}
