import Crypto
import Foundation
import MaestroCore

/// One versioned SQL migration of one service: `services/<service>/migrations/NNNN_name.sql`.
///
/// File format: plain SQL. Comment directives (`-- maestro:<name> …`) set options:
/// - `phase expand|contract` (expand by default);
/// - `lock-timeout <duration>` / `statement-timeout <duration>` override the runner's defaults
///   for this migration (`0` disables the guard and is flagged by the linter);
/// - `pre-check <SQL>` / `post-check <SQL>`: a query that must return true before / after the
///   statements run (a failed post-check rolls the migration back);
/// - `lint-waive <rule>: <reason>` waives one lint rule for the next statement (the reason is
///   required);
/// - `down` ends the forward part: what follows is the rollback, run only by `rollback`.
///
/// A migration containing `CONCURRENTLY` (or another statement that cannot run in a
/// transaction) is *non-transactional*: its statements run one by one, progress is recorded,
/// and a failed run resumes where it stopped. The checksum (SHA-256 of the whole file) is
/// recorded when applied; editing an applied file is refused.
public struct Migration: Sendable, Equatable {
  /// When a migration may run relative to a deploy.
  public enum Phase: String, Sendable, CaseIterable {
    /// Backwards compatible: runs before the new code is deployed.
    case expand
    /// Only after every replica runs the new code.
    case contract
  }

  /// A `-- maestro:lint-waive <rule>: <reason>` comment.
  public struct Waiver: Sendable, Equatable {
    public var rule: String
    public var reason: String
    /// The 1-based line of the comment; it applies to the first statement after it.
    public var line: Int
  }

  public var service: String
  public var version: Int
  public var name: String
  /// Path relative to the migrations root, for messages.
  public var path: String
  /// Lowercase hex SHA-256 of the file.
  public var checksum: String
  public var phase: Phase
  /// The forward SQL (line numbers match the file's).
  public var up: String
  /// The rollback SQL, if the file has a `-- maestro:down` section.
  public var down: String?
  /// The file line of the `-- maestro:down` marker (0 without one).
  public var downMarkerLine: Int = 0
  /// Overrides of the runner's guard rails; `.zero` disables one.
  public var lockTimeout: Duration?
  public var statementTimeout: Duration?
  public var preChecks: [String] = []
  public var postChecks: [String] = []
  public var waivers: [Waiver] = []

  /// The forward statements, with file line numbers.
  public var upStatements: [SQLStatementSplitter.Statement] { SQLStatementSplitter.split(self.up) }

  /// The rollback statements, with file line numbers.
  public var downStatements: [SQLStatementSplitter.Statement] {
    guard let down else { return [] }
    return SQLStatementSplitter.split(down).map { .init(text: $0.text, line: $0.line + self.downMarkerLine) }
  }

  /// False when a forward statement cannot run inside a transaction block.
  public var transactional: Bool { !self.upStatements.contains { Self.requiresAutocommit($0.text) } }

  /// False when a rollback statement cannot run inside a transaction block.
  public var downTransactional: Bool { !self.downStatements.contains { Self.requiresAutocommit($0.text) } }

  /// Statements Postgres refuses inside a transaction block.
  static func requiresAutocommit(_ statement: String) -> Bool {
    let tokens = SQLToken.tokenize(statement)
    if tokens.contains(phrase: "concurrently") { return true }
    if let first = tokens.first, first.is("vacuum") { return true }
    if tokens.matches("alter system", at: 0) || tokens.matches("create database", at: 0) || tokens.matches("drop database", at: 0) {
      return true
    }
    return false
  }

  /// Parses a migration file's name and contents; throws ``MigrationError/invalidFile``.
  public init(service: String, fileName: String, path: String, contents: String) throws(MigrationError) {
    guard fileName.hasSuffix(".sql") else {
      throw .invalidFile(path: path, reason: "migration files end in .sql")
    }
    let stem = fileName.dropLast(4)
    guard let underscore = stem.firstIndex(of: "_"),
      let version = Int(stem[..<underscore]), version > 0,
      stem[..<underscore].count == 4
    else {
      throw .invalidFile(path: path, reason: "name must be NNNN_name.sql with a 4-digit version above 0")
    }
    let name = String(stem[stem.index(after: underscore)...])
    guard !name.isEmpty, name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }) else {
      throw .invalidFile(path: path, reason: "name after the version must be lowercase letters, digits and _")
    }

    self.service = service
    self.version = version
    self.name = name
    self.path = path
    self.phase = .expand
    self.up = ""
    self.checksum = SHA256.hash(data: Data(contents.utf8)).map { String(format: "%02x", $0) }.joined()

    var upLines: [Substring] = []
    var downLines: [Substring]?
    for (index, line) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("-- maestro:") {
        try self.parseDirective(trimmed, line: index + 1, inDown: downLines != nil)
        if trimmed == "-- maestro:down" || trimmed.hasPrefix("-- maestro:down ") {
          downLines = []
          self.downMarkerLine = index + 1
          continue
        }
      }
      if downLines != nil { downLines!.append(line) } else { upLines.append(line) }
    }
    self.up = upLines.joined(separator: "\n")
    self.down = downLines.map { $0.joined(separator: "\n") }
    guard !self.upStatements.isEmpty else {
      throw .invalidFile(path: path, reason: "no SQL statements before '-- maestro:down'")
    }
    if !self.transactional, !self.postChecks.isEmpty {
      throw .invalidFile(path: path, reason: "a post-check needs a transactional migration (it rolls back on failure); move the CONCURRENTLY statement to a migration of its own")
    }
  }

  private mutating func parseDirective(_ trimmed: String, line: Int, inDown: Bool) throws(MigrationError) {
    let body = trimmed.dropFirst("-- maestro:".count)
    let name = body.prefix { !$0.isWhitespace }
    let argument = body.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
    func invalid(_ reason: String) -> MigrationError { .invalidFile(path: self.path, reason: "line \(line): \(reason)") }
    switch name {
    case "phase":
      guard !inDown, let parsed = Phase(rawValue: argument) else { throw invalid("expected '-- maestro:phase expand|contract' before '-- maestro:down'") }
      self.phase = parsed
    case "down":
      guard !inDown else { throw invalid("a second '-- maestro:down'") }
      guard argument.isEmpty else { throw invalid("'-- maestro:down' takes no argument") }
    case "lock-timeout", "statement-timeout":
      guard !inDown else { throw invalid("'-- maestro:\(name)' belongs before '-- maestro:down' (it applies to both directions)") }
      let duration: Duration
      do {
        duration = try DurationParser.parse(argument)
      } catch {
        throw invalid("'-- maestro:\(name)' expects a duration such as 5s or 500ms: \(error)")
      }
      if name == "lock-timeout" { self.lockTimeout = duration } else { self.statementTimeout = duration }
    case "pre-check", "post-check":
      guard !inDown else { throw invalid("'-- maestro:\(name)' belongs before '-- maestro:down'") }
      guard !argument.isEmpty else { throw invalid("'-- maestro:\(name)' expects a query returning one boolean") }
      if name == "pre-check" { self.preChecks.append(argument) } else { self.postChecks.append(argument) }
    case "lint-waive":
      guard let colon = argument.firstIndex(of: ":") else {
        throw invalid("expected '-- maestro:lint-waive <rule>: <reason>'")
      }
      let rule = argument[..<colon].trimmingCharacters(in: .whitespaces)
      let reason = argument[argument.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      guard LintRule(rawValue: rule) != nil else {
        throw invalid("unknown lint rule '\(rule)'; expected one of \(LintRule.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      guard reason.count >= 10 else { throw invalid("a waiver needs a reason (at least 10 characters) saying why the statement is safe") }
      self.waivers.append(Waiver(rule: rule, reason: reason, line: line))
    default:
      throw invalid("unknown directive '\(trimmed)'")
    }
  }
}
