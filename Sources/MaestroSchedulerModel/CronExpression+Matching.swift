extension CronExpression {
  /// Whether the civil date matches the day-of-month/day-of-week fields (Vixie semantics).
  func matchesDay(year: Int, month: Int, day: Int) -> Bool {
    let daysInMonth = CivilTime.daysInMonth(year: year, month: month)
    let domMatch = self.daysOfMonth.contains(day) || (self.lastDayOfMonth && day == daysInMonth)
    let weekday = CivilTime.weekday(year: year, month: month, day: day)
    var dowMatch = self.daysOfWeek.contains(weekday) || (self.lastWeekdays.contains(weekday) && day + 7 > daysInMonth)
    if !dowMatch, !self.nthWeekdays.isEmpty {
      let ordinal = (day - 1) / 7 + 1
      dowMatch = self.nthWeekdays.contains(NthWeekday(weekday: weekday, ordinal: ordinal))
    }
    if self.dayOfMonthStar || self.dayOfWeekStar { return domMatch && dowMatch }
    return domMatch || dowMatch
  }

  /// Whether the civil time matches every field.
  public func matches(_ time: CivilTime) -> Bool {
    self.seconds.contains(time.second) && self.minutes.contains(time.minute) && self.hours.contains(time.hour)
      && self.months.contains(time.month) && self.matchesDay(year: time.year, month: time.month, day: time.day)
  }

  /// The first matching civil time strictly after `local` (civil seconds), searching at most
  /// `limitYears` ahead; nil when none.
  public func nextMatch(after local: Int64, limitYears: Int = 10) -> Int64? {
    var t = CivilTime(seconds: local + 1)
    let lastYear = t.year + limitYears
    // Carries: each `advance…` moves to the start of the next unit.
    func advanceMonth() {
      t.month += 1
      if t.month > 12 { t.month = 1; t.year += 1 }
      t.day = 1; t.hour = 0; t.minute = 0; t.second = 0
    }
    func advanceDay() {
      t.day += 1
      if t.day > CivilTime.daysInMonth(year: t.year, month: t.month) { advanceMonth() } else { t.hour = 0; t.minute = 0; t.second = 0 }
    }
    func advanceHour() {
      t.hour += 1
      if t.hour > 23 { advanceDay() } else { t.minute = 0; t.second = 0 }
    }
    func advanceMinute() {
      t.minute += 1
      if t.minute > 59 { advanceHour() } else { t.second = 0 }
    }
    while t.year <= lastYear {
      if !self.months.contains(t.month) {
        if let month = self.months.next(from: t.month + 1), month <= 12 {
          t.month = month; t.day = 1; t.hour = 0; t.minute = 0; t.second = 0
        } else {
          t.year += 1; t.month = 1; t.day = 1; t.hour = 0; t.minute = 0; t.second = 0
        }
        continue
      }
      if !self.matchesDay(year: t.year, month: t.month, day: t.day) { advanceDay(); continue }
      if !self.hours.contains(t.hour) {
        if let hour = self.hours.next(from: t.hour + 1), hour <= 23 { t.hour = hour; t.minute = 0; t.second = 0 } else { advanceDay() }
        continue
      }
      if !self.minutes.contains(t.minute) {
        if let minute = self.minutes.next(from: t.minute + 1), minute <= 59 { t.minute = minute; t.second = 0 } else { advanceHour() }
        continue
      }
      if !self.seconds.contains(t.second) {
        if let second = self.seconds.next(from: t.second + 1), second <= 59 { t.second = second } else { advanceMinute() }
        continue
      }
      return t.seconds
    }
    return nil
  }
}
