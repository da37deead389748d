import Crypto
import Foundation

/// One versioned SQL migration of one service: `services/<service>/migrations/NNNN_name.sql`.
///
/// File format: plain SQL. Header comments set options — `-- maestro:phase expand` (default)
/// or `-- maestro:phase contract`. A line `-- maestro:down` ends the forward part; what follows
/// is the rollback, never run by `migrate`. The checksum (SHA-256 of the whole file) is
/// recorded when applied; editing an applied file is refused.
public struct Migration: Sendable, Equatable {
  /// When a migration may run relative to a deploy.
  public enum Phase: String, Sendable, CaseIterable {
    /// Backwards compatible: runs before the new code is deployed.
    case expand
    /// Only after every replica runs the new code.
    case contract
  }

  public var service: String
  public var version: Int
  public var name: String
  /// Path relative to the migrations root, for messages.
  public var path: String
  /// Lowercase hex SHA-256 of the file.
  public var checksum: String
  public var phase: Phase
  /// The forward SQL.
  public var up: String
  /// The rollback SQL, if the file has a `-- maestro:down` section.
  public var down: String?

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

    var phase = Phase.expand
    var upLines: [Substring] = []
    var downLines: [Substring]?
    for (index, line) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("-- maestro:") {
        let directive = trimmed.dropFirst("-- maestro:".count).split(separator: " ", omittingEmptySubsequences: true)
        switch directive.first {
        case "phase":
          guard downLines == nil, directive.count == 2, let parsed = Phase(rawValue: String(directive[1])) else {
            throw .invalidFile(path: path, reason: "line \(index + 1): expected '-- maestro:phase expand|contract'")
          }
          phase = parsed
        case "down":
          guard downLines == nil else {
            throw .invalidFile(path: path, reason: "line \(index + 1): a second '-- maestro:down'")
          }
          downLines = []
          continue
        default:
          throw .invalidFile(path: path, reason: "line \(index + 1): unknown directive '\(trimmed)'")
        }
      }
      if downLines != nil { downLines!.append(line) } else { upLines.append(line) }
    }
    guard !SQLStatementSplitter.split(upLines.joined(separator: "\n")).isEmpty else {
      throw .invalidFile(path: path, reason: "no SQL statements before '-- maestro:down'")
    }

    self.service = service
    self.version = version
    self.name = name
    self.path = path
    self.checksum = SHA256.hash(data: Data(contents.utf8)).map { String(format: "%02x", $0) }.joined()
    self.phase = phase
    self.up = upLines.joined(separator: "\n")
    self.down = downLines.map { $0.joined(separator: "\n") }
  }
}
