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
    }
  }
}

extension MigrationError {
  /// The error as callers of the gRPC API see it.
  public var maestroError: MaestroError {
    switch self {
    case .invalidFile, .checksumMismatch, .missingFile, .statementFailed, .invalidSetting:
      MaestroError(.failedPrecondition, self.description, cause: self)
    case .io:
      MaestroError(.internal, "migration files cannot be read", cause: self)
    }
  }
}
