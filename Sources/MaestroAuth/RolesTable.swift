import MaestroCore

/// The README's roles table, generated from ``MaestroPermissions`` (`auth-gateway roles-table`),
/// so the documented matrix is the enforced one (a test compares them).
public enum RolesTable {
  static let summaries: [Role: String] = [
    .admin: "Everything, in every tenant; the only role that acts across tenants (explicitly, audited) and grants admin/security-admin.",
    .securityAdmin: "Signing keys (incl. emergency rotation), users, service accounts, role bindings, sessions, the audit log.",
    .platformOperator: "Migrations, metrics ingest, SLO/alert plumbing, runs and task work; reads keys, tenants and sessions. Backend service accounts have it.",
    .tenantAdmin: "Users, service accounts, role bindings and sessions of one tenant, plus everything a workflow author does.",
    .workflowAuthor: "Register workflows and templates, start runs, manage schedules; read everything workflow-related.",
    .workflowOperator: "Start, cancel, retry and signal runs; instantiate templates; manage schedules and alerts; work tasks.",
    .analyst: "Read runs, schedules, SLOs, alerts and statistics; answer approvals (signal runs).",
    .viewer: "Read-only access to the tenant's workflows, runs, schedules, SLOs and alerts.",
  ]

  /// The markdown table: role, what it may do, and its permissions.
  public static func markdown() -> String {
    var lines = ["| role | may | permissions |", "|---|---|---|"]
    for role in Role.allCases {
      let permissions = (MaestroPermissions.grants[role] ?? []).sorted().map { "`\($0.rawValue)`" }
      let listed = role == .admin ? "all \(permissions.count)" : permissions.joined(separator: " ")
      lines.append("| `\(role.rawValue)` | \(self.summaries[role] ?? "") | \(listed) |")
    }
    return lines.joined(separator: "\n")
  }
}
