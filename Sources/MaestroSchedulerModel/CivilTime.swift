/// Calendar arithmetic on wall-clock ("civil") times with no time zone: proleptic Gregorian
/// dates and times counted in seconds since 1970-01-01T00:00:00 *local*. Pure integer math
/// (Howard Hinnant's `days_from_civil`), so cron matching never touches a calendar object.
public struct CivilTime: Sendable, Hashable, Comparable, CustomStringConvertible {
  public var year: Int
  public var month: Int
  public var day: Int
  public var hour: Int
  public var minute: Int
  public var second: Int

  public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
    self.year = year
    self.month = month
    self.day = day
    self.hour = hour
    self.minute = minute
    self.second = second
  }

  /// The civil time `seconds` after 1970-01-01T00:00:00.
  public init(seconds: Int64) {
    let days = Int(seconds.floorDivided(by: 86_400))
    let rest = Int(seconds - Int64(days) * 86_400)
    let (y, m, d) = Self.civil(fromDays: days)
    self.init(year: y, month: m, day: d, hour: rest / 3600, minute: rest % 3600 / 60, second: rest % 60)
  }

  /// Seconds since 1970-01-01T00:00:00 of this civil time.
  public var seconds: Int64 {
    Int64(Self.days(year: self.year, month: self.month, day: self.day)) * 86_400
      + Int64(self.hour * 3600 + self.minute * 60 + self.second)
  }

  /// 0 = Sunday … 6 = Saturday.
  public var weekday: Int { Self.weekday(year: self.year, month: self.month, day: self.day) }

  public static func < (lhs: Self, rhs: Self) -> Bool { lhs.seconds < rhs.seconds }

  public var description: String {
    func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(self.year)-\(two(self.month))-\(two(self.day))T\(two(self.hour)):\(two(self.minute)):\(two(self.second))"
  }

  public static func isLeapYear(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

  public static func daysInMonth(year: Int, month: Int) -> Int {
    switch month {
    case 2: return self.isLeapYear(year) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }

  /// Days since 1970-01-01 of a civil date.
  public static func days(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
  }

  static func civil(fromDays days: Int) -> (Int, Int, Int) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
  }

  static func weekday(year: Int, month: Int, day: Int) -> Int {
    let days = self.days(year: year, month: month, day: day)
    return ((days % 7) + 7 + 4) % 7  // 1970-01-01 was a Thursday.
  }
}

extension Int64 {
  /// Division rounding toward negative infinity.
  func floorDivided(by divisor: Int64) -> Int64 {
    let quotient = self / divisor
    return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
  }
}
