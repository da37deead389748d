import Foundation

/// The locking and compatibility hazards the linter flags. Each rule's raw value is its id, used
/// in findings and in `-- maestro:lint-waive <rule>: <reason>` comments.
public enum LintRule: String, Sendable, CaseIterable {
  /// `CREATE INDEX` without `CONCURRENTLY` on an existing table blocks writes while it builds.
  case requireConcurrentIndex = "require-concurrent-index"
  /// A column added with a volatile default (or serial/identity/stored generated) rewrites the
  /// table under an ACCESS EXCLUSIVE lock.
  case volatileDefault = "volatile-default"
  /// `SET NOT NULL` without a validated `CHECK (col IS NOT NULL)` scans the table under an
  /// ACCESS EXCLUSIVE lock; `ADD COLUMN … NOT NULL` without a default fails on a non-empty table.
  case notNullWithoutCheck = "not-null-without-check"
  /// A column type change (or VACUUM FULL / CLUSTER) rewrites the table under an ACCESS
  /// EXCLUSIVE lock.
  case tableRewrite = "table-rewrite"
  /// `ALTER TABLE` with no `lock_timeout` in force queues every other query behind it while it
  /// waits for its lock.
  case missingLockTimeout = "missing-lock-timeout"
  /// Dropping or renaming a table or column in an expand migration breaks the code still running.
  case dropInExpand = "drop-in-expand"
  /// A foreign key added without `NOT VALID` + a separate `VALIDATE CONSTRAINT` scans the table
  /// while holding locks on both tables.
  case fkWithoutNotValid = "fk-without-not-valid"

  /// Every rule blocks `apply` unless waived.
  public var severity: LintFinding.Severity { .error }
}

/// One hazard found in one statement.
public struct LintFinding: Sendable, Equatable {
  public enum Severity: String, Sendable {
    case error
    case warning
  }

  public var service: String
  /// The migration's path relative to the migrations root, or `<inline>`.
  public var file: String
  /// The migration's version (0 for inline SQL).
  public var version: Int
  /// 1-based line of the offending statement.
  public var line: Int
  public var rule: LintRule
  public var severity: Severity
  public var message: String
  /// The safe rewrite.
  public var suggestion: String
  public var waived: Bool = false
  public var waiverReason: String = ""

  /// True when it blocks applying.
  public var blocks: Bool { self.severity == .error && !self.waived }
}

extension LintFinding: CustomStringConvertible {
  /// `file:line: error[rule]: message` and the suggestion on an indented line.
  public var description: String {
    let label = self.waived ? "waived" : self.severity.rawValue
    var text = "\(self.file):\(self.line): \(label)[\(self.rule.rawValue)]: \(self.message)"
    if self.waived {
      text += "\n    waiver: \(self.waiverReason)"
    } else {
      text += "\n    safe rewrite: \(self.suggestion.replacingOccurrences(of: "\n", with: "\n      "))"
    }
    return text
  }
}
