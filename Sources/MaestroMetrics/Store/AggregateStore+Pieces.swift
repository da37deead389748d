import Foundation

/// How a read of a time range is cut into rows of `series_minute`, `series_hour` and `series_day`
/// (pure: no database access, tested on its own).
extension AggregateStore {
  /// An aggregate level.
  enum Level: Sendable, Hashable {
    case minute, hour, day

    var table: String {
      switch self {
      case .minute: "series_minute"
      case .hour: "series_hour"
      case .day: "series_day"
      }
    }

    /// The width of a bucket, in seconds.
    var seconds: TimeInterval {
      switch self {
      case .minute: 60
      case .hour: 3600
      case .day: 86_400
      }
    }
  }

  /// Where rows come from: the series (`series_*`, one row per matching series and bucket) or
  /// a filter aggregate (`filter_*`, one row per bucket for all the series of an SLO filter).
  enum Source: Sendable, Hashable {
    case series, filter

    var keyColumn: String {
      switch self {
      case .series: "series_id"
      case .filter: "aggregate_id"
      }
    }
  }

  /// The rows of one level of one source with `start <= bucket_start < end`.
  struct Piece: Sendable, Hashable, CustomStringConvertible {
    var level: Level
    var start: Date
    var end: Date
    var source: Source = .series

    static func table(_ level: Level, _ source: Source) -> String {
      switch source {
      case .series: level.table
      case .filter: "filter_" + level.table.dropFirst("series_".count)
      }
    }

    var table: String { Self.table(self.level, self.source) }

    var description: String { "\(self.table)[\(self.start), \(self.end))" }
  }

  /// A piece added (`sign` 1) or subtracted (`sign` -1).
  struct SignedPiece: Sendable, Hashable, CustomStringConvertible {
    var piece: Piece
    var sign: Int64

    var description: String { (self.sign < 0 ? "-" : "+") + self.piece.description }
  }

  /// Pure: pieces whose signed sum is exactly the minutes of `range`.
  ///
  /// Whole days before `marks.days` come from days, whole hours before `marks.hours` from hours,
  /// and the partial hours (days) at both ends from minutes (hours). A partial hour (day) whose
  /// hour (day) is complete is read whichever way reads fewer rows: its minutes, or the whole
  /// hour minus the minutes of the hour outside the range (a head of 50 minutes is 1 hour row
  /// minus 10 minute rows). Every level always equals the sum of its minutes (the rollups and
  /// ingest's late path keep it so), so both ways give the same sums.
  ///
  /// Aged-out data: a head whose minutes are older than `minuteFloor` is counted as its whole
  /// hour, one whose hours are older than `hourFloor` as its whole day.
  static func pieces(of range: TimeRange, marks: RollupMarks, minuteFloor: Date, hourFloor: Date) -> [SignedPiece] {
    PiecePlanner(marks: marks, minuteFloor: minuteFloor, hourFloor: hourFloor).range(range.start, range.end)
  }

  /// Pure: the pieces of `range` when a filter aggregate covers the minutes `coverage`: the
  /// covered part from the aggregate, the rest (before and after it) from the series. Each part
  /// is cut like ``pieces(of:marks:minuteFloor:hourFloor:)`` cuts a whole range; the aggregate's
  /// levels mirror the series' levels over what it covers (every level is the sum of its
  /// minutes, and its minutes outside `coverage` are absent), so the sums are the same.
  static func pieces(of range: TimeRange, coverage: TimeRange?, marks: RollupMarks, minuteFloor: Date, hourFloor: Date) -> [SignedPiece] {
    let cut = { (start: Date, end: Date, source: Source) -> [SignedPiece] in
      guard start < end else { return [] }
      return self.pieces(of: TimeRange(start: start, end: end), marks: marks, minuteFloor: minuteFloor, hourFloor: hourFloor).map {
        var piece = $0
        piece.piece.source = source
        return piece
      }
    }
    guard let coverage, coverage.start < coverage.end, coverage.start < range.end, coverage.end > range.start else {
      return cut(range.start, range.end, .series)
    }
    return cut(range.start, coverage.start, .series)
      + cut(max(range.start, coverage.start), min(range.end, coverage.end), .filter)
      + cut(coverage.end, range.end, .series)
  }

  /// What ``counts(tenant:filter:ranges:now:latency:)`` reads: disjoint segments, one per
  /// query part, and for each segment the (range index, sign) pairs it is added to.
  struct ReadPlan: Sendable {
    var segments: [Piece] = []
    var uses: [[(range: Int, sign: Int64)]] = []
  }

  /// Pure: splits the pieces of all ranges at every boundary of another piece of the same level,
  /// so overlapping pieces become shared segments that are read once.
  static func readPlan(_ pieces: [[SignedPiece]]) -> ReadPlan {
    struct Table: Hashable {
      var level: Level
      var source: Source
    }
    var cuts: [Table: [Date]] = [:]
    for piece in pieces.joined() {
      cuts[Table(level: piece.piece.level, source: piece.piece.source), default: []] += [piece.piece.start, piece.piece.end]
    }
    for level in cuts.keys { cuts[level] = Array(Set(cuts[level]!)).sorted() }
    var plan = ReadPlan()
    var index: [Piece: Int] = [:]
    for (rangeIndex, rangePieces) in pieces.enumerated() {
      for signed in rangePieces {
        let piece = signed.piece
        let points = cuts[Table(level: piece.level, source: piece.source)]!.filter { $0 > piece.start && $0 < piece.end }
        var start = piece.start
        for end in points + [piece.end] {
          let segment = Piece(level: piece.level, start: start, end: end, source: piece.source)
          start = end
          if let existing = index[segment] {
            plan.uses[existing].append((rangeIndex, signed.sign))
          } else {
            index[segment] = plan.segments.count
            plan.segments.append(segment)
            plan.uses.append([(rangeIndex, signed.sign)])
          }
        }
      }
    }
    return plan
  }
}

/// The decomposition behind ``AggregateStore/pieces(of:marks:minuteFloor:hourFloor:)``.
private struct PiecePlanner {
  typealias Level = AggregateStore.Level
  typealias SignedPiece = AggregateStore.SignedPiece

  let marks: AggregateStore.RollupMarks
  let minuteFloor: Date
  let hourFloor: Date

  func add(_ level: Level, _ start: Date, _ end: Date) -> [SignedPiece] {
    start < end ? [SignedPiece(piece: .init(level: level, start: start, end: end), sign: 1)] : []
  }

  func minus(_ pieces: [SignedPiece]) -> [SignedPiece] {
    pieces.map { SignedPiece(piece: $0.piece, sign: -$0.sign) }
  }

  /// Rows read per series: one per bucket.
  func cost(_ pieces: [SignedPiece]) -> Double {
    pieces.reduce(0) { $0 + $1.piece.end.timeIntervalSince($1.piece.start) / $1.piece.level.seconds }
  }

  /// Whether every row `pieces` read is still kept.
  func available(_ pieces: [SignedPiece]) -> Bool {
    pieces.allSatisfy { piece in
      switch piece.piece.level {
      case .minute: piece.piece.start >= self.minuteFloor
      case .hour: piece.piece.start >= self.hourFloor
      case .day: true
      }
    }
  }

  /// The cheaper of `direct` and `complement`, when the complement's rows are all kept.
  func cheaper(_ direct: [SignedPiece], _ complement: [SignedPiece]?) -> [SignedPiece] {
    guard let complement, self.available(complement), self.cost(complement) < self.cost(direct) else { return direct }
    return complement
  }

  func range(_ start: Date, _ end: Date) -> [SignedPiece] {
    guard start < end else { return [] }
    let dayStart = AggregateStore.ceilDay(start)
    let dayEnd = min(AggregateStore.floorDay(end), self.marks.days)
    guard dayStart < dayEnd else {
      return self.withinDays(start, end)
    }
    var pieces: [SignedPiece]
    if start < self.hourFloor {
      // The head's hours have aged out: count its whole day instead.
      pieces = self.add(.day, AggregateStore.floorDay(start), dayEnd)
    } else {
      // The head's day [floorDay(start), dayStart) is complete.
      let dayOfStart = AggregateStore.floorDay(start)
      pieces = self.cheaper(
        self.hoursAndMinutes(start, dayStart),
        start > dayOfStart ? self.add(.day, dayOfStart, dayStart) + self.minus(self.hoursAndMinutes(dayOfStart, start)) : nil)
      pieces += self.add(.day, dayStart, dayEnd)
    }
    // The tail [dayEnd, end): the whole day minus the rest of it, if that day is complete.
    let dayAfterEnd = AggregateStore.ceilDay(end)
    let tailComplement = dayEnd == AggregateStore.floorDay(end) && dayAfterEnd <= self.marks.days && end < dayAfterEnd
      ? self.add(.day, dayEnd, dayAfterEnd) + self.minus(self.hoursAndMinutes(end, dayAfterEnd)) : nil
    return pieces + self.cheaper(self.hoursAndMinutes(dayEnd, end), tailComplement)
  }

  /// [start, end) without whole days; if it lies inside one complete day, possibly that day
  /// minus the rest of it.
  func withinDays(_ start: Date, _ end: Date) -> [SignedPiece] {
    let day = AggregateStore.floorDay(start)
    let next = day.addingTimeInterval(86_400)
    let direct = self.hoursAndMinutes(start, end)
    guard end <= next, next <= self.marks.days, start >= self.hourFloor else { return direct }
    return self.cheaper(direct, self.add(.day, day, next) + self.minus(self.hoursAndMinutes(day, start)) + self.minus(self.hoursAndMinutes(end, next)))
  }

  /// [start, end) from hours and minutes.
  func hoursAndMinutes(_ start: Date, _ end: Date) -> [SignedPiece] {
    guard start < end else { return [] }
    let hourStart = AggregateStore.ceilHour(start)
    let hourEnd = min(AggregateStore.floorHour(end), self.marks.hours)
    guard hourStart <= hourEnd else {
      // Inside one hour, or in hours not rolled up yet.
      let hour = AggregateStore.floorHour(start)
      let next = hour.addingTimeInterval(3600)
      let direct = self.add(.minute, max(start, self.minuteFloor), end)
      guard end <= next, next <= self.marks.hours else { return direct }
      return self.cheaper(direct, self.add(.hour, hour, next) + self.minus(self.add(.minute, hour, start) + self.add(.minute, end, next)))
    }
    var pieces: [SignedPiece]
    let hourOfStart = AggregateStore.floorHour(start)
    if start < self.minuteFloor {
      // The head's minutes have aged out: count its whole hour instead.
      pieces = self.add(.hour, hourOfStart, hourStart)
    } else {
      pieces = self.cheaper(
        self.add(.minute, start, hourStart),
        start > hourOfStart ? self.add(.hour, hourOfStart, hourStart) + self.minus(self.add(.minute, hourOfStart, start)) : nil)
    }
    pieces += self.add(.hour, hourStart, hourEnd)
    let hourAfterEnd = AggregateStore.ceilHour(end)
    let tailComplement = hourEnd == AggregateStore.floorHour(end) && hourAfterEnd <= self.marks.hours && end < hourAfterEnd
      ? self.add(.hour, hourEnd, hourAfterEnd) + self.minus(self.add(.minute, end, hourAfterEnd)) : nil
    return pieces + self.cheaper(self.add(.minute, hourEnd, end), tailComplement)
  }
}
