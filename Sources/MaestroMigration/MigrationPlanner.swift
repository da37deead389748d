/// Decides what an apply would run, per service, and what would make it refuse. Pure.
///
/// Migrations run in version order. `phase` selects one phase: an expand run stops before the
/// first pending contract migration (it runs after the deploy); a contract run refuses while an
/// expand migration is pending before it. A contract migration V is refused while a live
/// instance of its service registers a version below V (old code that may still use what V
/// removes). Unwaived lint errors and out-of-order files refuse too.
public struct MigrationPlanner: Sendable {
  public var phase: Migration.Phase?
  public var service: String?
  /// Stop after this version (only with `service`).
  public var targetVersion: Int?
  public var linter: MigrationLinter

  public init(phase: Migration.Phase? = nil, service: String? = nil, targetVersion: Int? = nil, linter: MigrationLinter = MigrationLinter()) {
    self.phase = phase
    self.service = service
    self.targetVersion = targetVersion
    self.linter = linter
  }

  /// One service's plan.
  public struct ServicePlan: Sendable {
    public var service: ManagedService
    public var currentVersion: Int
    /// What would run, in order.
    public var migrations: [Migration]
    /// Lint findings of those migrations (waived ones included).
    public var findings: [LintFinding]
    /// Why an apply would refuse (empty: it may run).
    public var blockers: [String]
  }

  public func plan(services: [ManagedService], ledger: Ledger, expectations: [SchemaExpectation]) -> [ServicePlan] {
    services.filter { self.service == nil || $0.name == self.service }.map { service in
      let applied = ledger.versions(of: service.name)
      let current = ledger.currentVersion(of: service.name)
      var blockers: [String] = []
      var selected: [Migration] = []
      let pending = service.migrations.filter { !applied.contains($0.version) }
      for migration in pending {
        if let target = self.targetVersion, migration.version > target { break }
        if migration.version < current {
          blockers.append("\(migration.path) is older than the applied version \(current): add it with a higher version")
          break
        }
        if let phase = self.phase, migration.phase != phase {
          if phase == .contract, selected.isEmpty {
            blockers.append("expand migration \(migration.path) is pending before the contract ones: run apply --phase expand first")
          }
          break
        }
        if migration.phase == .contract {
          let older = expectations.filter { $0.service == service.name && $0.version < migration.version }
          if !older.isEmpty {
            let list = older.prefix(5).map { "instance \($0.instanceID) expects version \($0.version)" }.joined(separator: ", ")
            blockers.append("contract migration \(migration.path) waits for every instance to run code that knows version \(migration.version): \(list)\(older.count > 5 ? " and \(older.count - 5) more" : "")")
            break
          }
        }
        selected.append(migration)
      }
      let findings = selected.flatMap { self.linter.lint($0) }
      for finding in findings where finding.blocks {
        blockers.append("lint \(finding.file):\(finding.line) [\(finding.rule.rawValue)]: \(finding.message)")
      }
      return ServicePlan(service: service, currentVersion: current, migrations: selected, findings: findings, blockers: blockers)
    }
  }
}
