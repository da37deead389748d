import Foundation
public import MaestroProtos
import SwiftProtobuf

/// The domain values as `maestro.migration.v1` messages (shared by the gRPC API and the CLI's
/// `--format json`).
extension Migration.Phase {
  public var message: Maestro_Migration_V1_MigrationPhase { self == .contract ? .contract : .expand }

  public init?(_ message: Maestro_Migration_V1_MigrationPhase) {
    switch message {
    case .expand: self = .expand
    case .contract: self = .contract
    default: return nil
    }
  }
}

extension LintFinding {
  public var protoMessage: Maestro_Migration_V1_LintFinding {
    .with {
      $0.service = self.service
      $0.file = self.file
      $0.line = Int32(clamping: self.line)
      $0.rule = self.rule.rawValue
      $0.severity = self.severity == .error ? .error : .warning
      $0.message = self.message
      $0.suggestion = self.suggestion
      $0.waived = self.waived
      $0.waiverReason = self.waiverReason
    }
  }
}

extension Migration {
  /// As a pending migration, with its lint findings.
  public func pendingMessage(findings: [LintFinding]) -> Maestro_Migration_V1_PendingMigration {
    .with {
      $0.version = Int64(self.version)
      $0.name = self.name
      $0.checksum = self.checksum
      $0.phase = self.phase.message
      $0.reversible = self.down != nil
      $0.transactional = self.transactional
      $0.findings = findings.filter { $0.version == self.version && $0.file == self.path }.map(\.protoMessage)
    }
  }
}

extension MigrationPlanner.ServicePlan {
  public var message: Maestro_Migration_V1_ServicePlan {
    .with {
      $0.service = self.service.name
      $0.currentVersion = Int64(self.currentVersion)
      $0.pending = self.migrations.map { $0.pendingMessage(findings: self.findings) }
      $0.blockers = self.blockers
    }
  }
}

extension MigrationRunner.AppliedMigration {
  public var message: Maestro_Migration_V1_AppliedMigration {
    .with {
      $0.version = Int64(self.version)
      $0.name = self.name
      $0.phase = self.phase.message
      $0.duration = Google_Protobuf_Duration(rounding: Double(self.durationMilliseconds) / 1000)
      $0.lockRetries = Int32(clamping: self.lockRetries)
      $0.backupPath = self.backupPath ?? ""
    }
  }
}

extension BackupTool.Dump {
  public var message: Maestro_Migration_V1_Backup {
    .with {
      $0.service = self.service
      $0.path = self.path
      $0.sizeBytes = self.sizeBytes
      $0.createdAt = Google_Protobuf_Timestamp(date: self.createdAt)
    }
  }
}

extension MigrationStatus {
  public var message: Maestro_Migration_V1_ServiceStatus {
    let files = Dictionary(uniqueKeysWithValues: self.service.migrations.map { ($0.version, $0) })
    let findings = MigrationLinter().lint(self.service)
    return .with { status in
      status.service = self.service.name
      status.currentVersion = Int64(self.currentVersion)
      status.applied = self.applied.map { entry in
        .with { applied in
          applied.version = Int64(entry.version)
          applied.name = entry.name
          applied.checksum = entry.checksum
          applied.phase = entry.phase == Migration.Phase.contract.rawValue ? .contract : .expand
          applied.duration = Google_Protobuf_Duration(rounding: Double(entry.durationMilliseconds) / 1000)
          applied.appliedAt = Google_Protobuf_Timestamp(date: entry.appliedAt)
          applied.appliedBy = entry.appliedBy
          applied.lockRetries = Int32(clamping: entry.lockRetries)
          applied.backupPath = entry.backupPath ?? ""
          applied.checksumMismatch = files[entry.version].map { $0.checksum != entry.checksum } ?? false
        }
      }
      status.pending = self.pending.map { $0.pendingMessage(findings: findings) }
      status.drift = self.drift.map { drift in
        .with {
          $0.kind = switch drift.kind {
          case .missingTable: .missingTable
          case .missingColumn: .missingColumn
          case .missingIndex: .missingIndex
          case .checksumMismatch: .checksumMismatch
          case .missingFile: .missingFile
          }
          $0.object = drift.object
          $0.message = drift.message
        }
      }
      status.expectations = self.expectations.map { expectation in
        .with {
          $0.instanceID = expectation.instanceID
          $0.service = expectation.service
          $0.version = Int64(expectation.version)
          $0.registeredAt = Google_Protobuf_Timestamp(date: expectation.registeredAt)
          $0.expiresAt = Google_Protobuf_Timestamp(date: expectation.expiresAt)
        }
      }
    }
  }
}
