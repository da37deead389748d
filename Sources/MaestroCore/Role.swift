/// The eight roles of Maestro's RBAC model. Role bindings are per tenant; only ``admin`` may act
/// across tenants, and only explicitly.
public enum Role: String, Sendable, Hashable, CaseIterable, Codable {
  case admin = "admin"
  case securityAdmin = "security-admin"
  case platformOperator = "platform-operator"
  case tenantAdmin = "tenant-admin"
  case workflowAuthor = "workflow-author"
  case workflowOperator = "workflow-operator"
  case analyst = "analyst"
  case viewer = "viewer"
}
