import Foundation

/// Reads a service's migration files from disk.
public enum MigrationLoader {
  /// The migrations of `service` under `<root>/<service>/migrations`, ordered by version.
  public static func load(root: String, service: String) throws(MigrationError) -> [Migration] {
    let directory = "\(root)/\(service)/migrations"
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
      return []
    }
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }.sorted()
    } catch {
      throw .io(path: directory, reason: "\(error)")
    }
    var migrations: [Migration] = []
    var seen: [Int: String] = [:]
    for name in names {
      let path = "\(service)/migrations/\(name)"
      let contents: String
      do {
        contents = try String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)
      } catch {
        throw .io(path: path, reason: "\(error)")
      }
      let migration = try Migration(service: service, fileName: name, path: path, contents: contents)
      if let other = seen[migration.version] {
        throw .invalidFile(path: path, reason: "version \(migration.version) is also used by \(other)")
      }
      seen[migration.version] = path
      migrations.append(migration)
    }
    return migrations.sorted { $0.version < $1.version }
  }
}
