public import Foundation
public import MaestroKit

/// Runs `pg_dump -Fc` of a schema into a directory before applying or rolling back, and
/// `pg_restore` to bring a schema back from such a file.
public struct BackupTool: Sendable {
  /// Where dumps are written (created if missing).
  public var directory: String
  /// The `pg_dump` and `pg_restore` executables.
  public var pgDump: String
  public var pgRestore: String
  /// The administrator connection the tools use (password passed via `PGPASSWORD`).
  public var database: DatabaseConfiguration

  public init(directory: String, database: DatabaseConfiguration, pgDump: String? = nil, pgRestore: String? = nil) {
    self.directory = directory
    self.database = database
    self.pgDump = pgDump ?? Self.locate("pg_dump")
    self.pgRestore = pgRestore ?? Self.locate("pg_restore")
  }

  /// `name` on PATH, else the newest `/usr/lib/postgresql/*/bin/name`, else `name`.
  public static func locate(_ name: String) -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
      return "\(directory)/\(name)"
    }
    let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
    for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
      let candidate = "/usr/lib/postgresql/\(version)/bin/\(name)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return name
  }

  /// A dump written by ``dump(schema:service:version:)``.
  public struct Dump: Sendable, Equatable {
    public var service: String
    public var path: String
    public var sizeBytes: Int64
    public var createdAt: Date
  }

  /// Dumps `schema` (custom format) to `<directory>/<service>-v<version>-<UTC time>.dump`.
  public func dump(schema: String, service: String, version: Int) async throws -> Dump {
    do {
      try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
    } catch {
      throw MigrationError.backupFailed("cannot create backup directory \(self.directory): \(error)")
    }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
    let now = Date()
    let path = "\(self.directory)/\(service)-v\(version)-\(formatter.string(from: now)).dump"
    try await self.run(self.pgDump, ["--format=custom", "--schema=\(schema)", "--file=\(path)"] + self.connectionArguments)
    let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    return Dump(service: service, path: path, sizeBytes: size, createdAt: now)
  }

  /// Restores `path` (a dump of `schema`) in one transaction. The caller has moved the current
  /// schema aside, so the dump's `CREATE SCHEMA` recreates it exactly as it was.
  func restore(path: String) async throws {
    guard FileManager.default.fileExists(atPath: path) else {
      throw MigrationError.backupFailed("backup file \(path) does not exist on this host")
    }
    try await self.run(self.pgRestore, ["--single-transaction", "--exit-on-error", "--no-password"] + self.connectionArguments.filter { $0 != "--no-password" } + [path])
  }

  private var connectionArguments: [String] {
    [
      "--host=\(self.database.host)", "--port=\(self.database.port)", "--username=\(self.database.username)",
      "--dbname=\(self.database.database)", "--no-password",
    ]
  }

  private func run(_ executable: String, _ arguments: [String]) async throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["PGPASSWORD"] = self.database.password ?? ""
    environment["PGSSLMODE"] = self.database.tls == .disable ? "disable" : (self.database.tls == .require ? "require" : "prefer")
    process.environment = environment
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    let name = URL(fileURLWithPath: executable).lastPathComponent
    do {
      try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        process.terminationHandler = { _ in continuation.resume() }
        do {
          try process.run()
        } catch {
          process.terminationHandler = nil
          continuation.resume(throwing: error)
        }
      }
    } catch {
      throw MigrationError.backupFailed("cannot run \(executable) (install postgresql-client or set MAESTRO_PG_DUMP/MAESTRO_PG_RESTORE): \(error)")
    }
    let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    guard process.terminationStatus == 0 else {
      throw MigrationError.backupFailed("\(name) exited with status \(process.terminationStatus): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
  }
}
