import Crypto
import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroWorkflowModel
import PostgresNIO
import Synchronization

/// Workflow definitions in the `workflow` schema, and a cache of compiled versions (versions
/// are immutable, so the cache never goes stale).
final class DefinitionStore: Sendable {
  private let logger: Logger
  private let cache = Mutex<[CacheKey: CompiledWorkflow]>([:])
  /// The latest version number last seen per (tenant, name). StartRun plans with it and
  /// `start_run` verifies it against the table, so it is a hint, never trusted blindly.
  private let latest = Mutex<[LatestKey: Int]>([:])
  private static let cacheLimit = 2048

  private struct LatestKey: Hashable {
    var tenant: String
    var name: String
  }

  private struct CacheKey: Hashable {
    var tenant: String
    var name: String
    var version: Int
  }

  init(logger: Logger) { self.logger = logger }

  /// A stored definition with its metadata.
  struct Stored: Sendable {
    var definition: Maestro_Workflow_V1_WorkflowDefinition
    var checksum: String
    var createdAt: Date
    var createdBy: String?
  }

  /// SHA-256 of the definition's canonical JSON (the version number excluded).
  static func checksum(of definition: Maestro_Workflow_V1_WorkflowDefinition) throws -> String {
    var copy = definition
    copy.version = 0
    let json = try copy.jsonString()
    let canonical = try JSONValue(jsonText: json).jsonText
    return SHA256.hash(data: Data(canonical.utf8)).map { String(format: "%02x", $0) }.joined()
  }

  /// Stores `definition` as the next version of its name, unless it equals the latest version
  /// (then that version is returned with `created` false). Serialised per name by an advisory
  /// transaction lock, so concurrent registrations never collide on a version number.
  func register(
    _ definition: Maestro_Workflow_V1_WorkflowDefinition,
    tenant: String,
    createdBy: String?,
    on connection: PostgresConnection
  ) async throws -> (Stored, created: Bool) {
    let checksum = try Self.checksum(of: definition)
    _ = try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(tenant + "/" + definition.name)))", logger: self.logger).collect()
    if let latest = try await self.get(tenant: tenant, name: definition.name, version: 0, on: connection), latest.checksum == checksum {
      return (latest, false)
    }
    var stored = definition
    let rows = try await connection.query(
      "SELECT coalesce(max(version), 0) + 1 FROM workflow_definitions WHERE tenant = \(tenant) AND name = \(definition.name)",
      logger: self.logger
    )
    var next = 1
    for try await value in rows.decode(Int.self) { next = value }
    stored.version = Int32(next)
    let strategy: String =
      switch definition.runStrategy.mode {
      case .sequential: "sequential"
      case .skipIfRunning: "skip_if_running"
      case .cancelPrevious: "cancel_previous"
      default: "parallel"
      }
    let labels = JSONValue.object(definition.labels.mapValues(JSONValue.string)).jsonText
    let maxConcurrent: Int? = definition.runStrategy.maxConcurrentRuns > 0 ? Int(definition.runStrategy.maxConcurrentRuns) : nil
    let inserted = try await connection.query(
      """
      INSERT INTO workflow_definitions (tenant, name, version, description, definition, checksum, labels,
        run_strategy, max_concurrent_runs, created_by)
      VALUES (\(tenant), \(definition.name), \(next), \(definition.description_p), \(try stored.jsonString())::jsonb,
        \(checksum), \(labels)::jsonb, \(strategy), \(maxConcurrent), \(createdBy))
      RETURNING created_at
      """,
      logger: self.logger
    )
    var createdAt = Date()
    for try await value in inserted.decode(Date.self) { createdAt = value }
    return (Stored(definition: stored, checksum: checksum, createdAt: createdAt, createdBy: createdBy), true)
  }

  /// One version (0 = the latest) of a workflow, or nil.
  func get(tenant: String, name: String, version: Int, on connection: PostgresConnection) async throws -> Stored? {
    let rows = try await connection.query(
      version > 0
        ? "SELECT definition::text, checksum, created_at, created_by FROM workflow_definitions WHERE tenant = \(tenant) AND name = \(name) AND version = \(version)"
        : "SELECT definition::text, checksum, created_at, created_by FROM workflow_definitions WHERE tenant = \(tenant) AND name = \(name) ORDER BY version DESC LIMIT 1",
      logger: self.logger
    )
    for try await (json, checksum, createdAt, createdBy) in rows.decode((String, String, Date, String?).self) {
      return Stored(definition: try Maestro_Workflow_V1_WorkflowDefinition(jsonString: json), checksum: checksum, createdAt: createdAt, createdBy: createdBy)
    }
    return nil
  }

  /// The cached compiled form of a version (0: the latest version last seen), or nil.
  func cached(tenant: String, name: String, version requested: Int) -> CompiledWorkflow? {
    var version = requested
    if version == 0 {
      guard let latest = self.latest.withLock({ $0[LatestKey(tenant: tenant, name: name)] }) else { return nil }
      version = latest
    }
    return self.cache.withLock { $0[CacheKey(tenant: tenant, name: name, version: version)] }
  }

  /// The compiled form of a stored version, cached.
  func compiled(tenant: String, name: String, version requested: Int, on connection: PostgresConnection) async throws -> CompiledWorkflow {
    var version = requested
    if version == 0 {
      // "Latest" changes when a version is registered: resolve the number (an index lookup),
      // then use the cache of immutable versions instead of parsing and compiling again.
      let rows = try await connection.query(
        "SELECT max(version) FROM workflow_definitions WHERE tenant = \(tenant) AND name = \(name)",
        logger: self.logger
      )
      for try await latest in rows.decode(Int?.self) { version = latest ?? 0 }
      guard version > 0 else { throw MaestroError.notFound("workflow '\(name)' not found") }
      let resolved = version
      self.latest.withLock { latest in
        if latest.count >= Self.cacheLimit { latest.removeAll(keepingCapacity: true) }
        latest[LatestKey(tenant: tenant, name: name)] = resolved
      }
    }
    let key = CacheKey(tenant: tenant, name: name, version: version)
    if let hit = self.cache.withLock({ $0[key] }) { return hit }
    guard let stored = try await self.get(tenant: tenant, name: name, version: version, on: connection) else {
      throw MaestroError.notFound("workflow '\(name)'\(version > 0 ? " version \(version)" : "") not found")
    }
    let workflow: CompiledWorkflow
    switch DefinitionValidator.compile(stored.definition) {
    case .success(let compiled): workflow = compiled
    case .failure(let issues):
      throw MaestroError(.internal, "stored workflow '\(name)' v\(stored.definition.version) no longer compiles: \(issues.issues)")
    }
    self.cache.withLock { cache in
      if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
      cache[CacheKey(tenant: tenant, name: name, version: workflow.version)] = workflow
    }
    return workflow
  }
}
