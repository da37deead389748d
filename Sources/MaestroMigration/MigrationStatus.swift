import Foundation
import MaestroProtos
import SwiftProtobuf

/// One service's migration status: the ledger compared with the files. Pure, for testing.
struct MigrationStatus {
  let service: ManagedService
  let ledger: Ledger

  var message: Maestro_Migration_V1_ServiceStatus {
    let entries = self.ledger.entries.filter { $0.service == self.service.name }
    let files = Dictionary(uniqueKeysWithValues: self.service.migrations.map { ($0.version, $0) })
    let appliedVersions = Set(entries.map(\.version))
    return .with { status in
      status.service = self.service.name
      status.currentVersion = Int64(entries.map(\.version).max() ?? 0)
      status.applied = entries.map { entry in
        .with { applied in
          applied.version = Int64(entry.version)
          applied.name = entry.name
          applied.checksum = entry.checksum
          applied.phase = entry.phase == Migration.Phase.contract.rawValue ? .contract : .expand
          applied.duration = Google_Protobuf_Duration(rounding: Double(entry.durationMilliseconds) / 1000)
          applied.appliedAt = Google_Protobuf_Timestamp(date: entry.appliedAt)
          applied.appliedBy = entry.appliedBy
          applied.checksumMismatch = files[entry.version].map { $0.checksum != entry.checksum } ?? false
        }
      }
      status.pending = self.service.migrations.filter { !appliedVersions.contains($0.version) }.map { migration in
        .with { pending in
          pending.version = Int64(migration.version)
          pending.name = migration.name
          pending.checksum = migration.checksum
          pending.phase = migration.phase == .contract ? .contract : .expand
          pending.reversible = migration.down != nil
          pending.transactional = true
        }
      }
      status.drift = entries.compactMap { entry in
        guard let file = files[entry.version] else {
          return .with {
            $0.kind = .missingFile
            $0.object = "\(self.service.name)/\(String(format: "%04d", entry.version))_\(entry.name)"
            $0.message = "applied migration's file is missing from the repository"
          }
        }
        guard file.checksum == entry.checksum else {
          return .with {
            $0.kind = .checksumMismatch
            $0.object = file.path
            $0.message = "file changed after it was applied"
          }
        }
        return nil
      }
    }
  }
}
