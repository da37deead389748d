import Foundation
public import MaestroCore

/// Why migrations could not be loaded or applied.
public enum MigrationError: Error, Sendable, Equatable, CustomStringConvertible {
  /// A file's name, directives or contents are malformed.
  case invalidFile(path: String, reason: String)
  /// A file could not be read.
  case io(path: String, reason: String)
  /// An applied migration's file changed since it was applied.
  case checksumMismatch(path: String, recorded: String, current: String)
  /// The ledger records a migration whose file no longer exists.
  case missingFile(service: String, version: Int, name: String)
  /// A statement failed; nothing of that migration was kept.
  case statementFailed(path: String, line: Int, message: String)
  /// A role name or password cannot be used.
  case invalidSetting(String)
  /// Another runner holds the advisory lock and the runner was told not to wait (longer).
  case lockHeld(holder: String, waited: Duration)
  /// A statement's lock was not granted within lock_timeout, on every retry.
  case lockNotGranted(path: String, line: Int, attempts: Int, lockTimeout: Duration)
  /// A pre- or post-check did not return true; nothing of the migration was kept.
  case checkFailed(path: String, kind: String, query: String, result: String)
  /// The request cannot run as asked (blocked by lint, phases, instances or missing down sections).
  case refused([String])
  /// A backup or restore failed.
  case backupFailed(String)

  public var description: String {
    switch self {
    case .invalidFile(let path, let reason):
      "invalid migration \(path): \(reason)"
    case .io(let path, let reason):
      "cannot read \(path): \(reason)"
    case .checksumMismatch(let path, let recorded, let current):
      "migration \(path) was edited after it was applied (recorded checksum \(recorded.prefix(12))…, file now \(current.prefix(12))…): applied migrations are immutable; restore the file and add a new migration instead"
    case .missingFile(let service, let version, let name):
      "migration \(String(format: "%04d", version))_\(name) of \(service) is recorded as applied but its file is missing"
    case .statementFailed(let path, let line, let message):
      "migration \(path) failed at line \(line): \(message); it was rolled back"
    case .invalidSetting(let message):
      message
    case .lockHeld(let holder, let waited):
      "another migration runner holds the migration lock (\(holder))\(waited > .zero ? " and did not release it within \(waited)" : ""); it applies the same migrations: wait for it to finish, or rerun with a longer --lock-wait"
    case .lockNotGranted(let path, let line, let attempts, let lockTimeout):
      "migration \(path) line \(line): the table lock was not granted within lock_timeout \(lockTimeout) in \(attempts) attempts (a long transaction holds a conflicting lock); nothing of it was kept — find the blocker in pg_stat_activity and retry"
    case .checkFailed(let path, let kind, let query, let result):
      "migration \(path): \(kind) `\(query)` returned \(result), not true; nothing of the migration was kept"
    case .refused(let reasons):
      "refused: " + reasons.joined(separator: "; ")
    case .backupFailed(let message):
      "backup/restore failed: \(message)"
    }
  }
}

extension MigrationError {
  /// The error as callers of the gRPC API see it.
  public var maestroError: MaestroError {
    switch self {
    case .invalidFile, .checksumMismatch, .missingFile, .statementFailed, .invalidSetting, .checkFailed, .refused:
      MaestroError(.failedPrecondition, self.description, cause: self)
    case .lockHeld, .lockNotGranted:
      MaestroError(.aborted, self.description, cause: self)
    case .backupFailed:
      MaestroError(.internal, self.description, cause: self)
    case .io:
      MaestroError(.internal, "migration files cannot be read", cause: self)
    }
  }
}
