import GRPCCore
import MaestroCore
import MaestroProtos
import Testing

@Suite("Permission matrix")
struct PermissionMatrixTests {
  /// Every method of every generated service descriptor.
  static let allMethods: [MethodDescriptor] =
    Grpc_Health_V1_Health.Method.descriptors
    + Maestro_Auth_V1_AuthService.Method.descriptors
    + Maestro_Workflow_V1_WorkflowService.Method.descriptors
    + Maestro_Workflow_V1_WorkerService.Method.descriptors
    + Maestro_Scheduler_V1_SchedulerService.Method.descriptors
    + Maestro_Metrics_V1_MetricsService.Method.descriptors
    + Maestro_Migration_V1_MigrationService.Method.descriptors

  @Test("maps every method of every service, and nothing that does not exist")
  func coversEveryMethod() {
    let generated = Set(Self.allMethods.map(\.fullyQualifiedMethod))
    let mapped = Set(MaestroPermissions.requirements.keys)
    #expect(generated.subtracting(mapped).sorted() == [], "unmapped methods are denied to everyone")
    #expect(mapped.subtracting(generated).sorted() == [], "the matrix names methods that do not exist")
  }

  @Test("admin holds every permission; every other permission is granted to some role besides admin")
  func admin() {
    let permissions = Set(MaestroPermissions.requirements.values.compactMap { requirement -> Permission? in
      if case .permission(let permission) = requirement { return permission }
      return nil
    })
    #expect(MaestroPermissions.grants[.admin] == permissions)
    let others = MaestroPermissions.grants.filter { $0.key != .admin }.values.reduce(into: Set<Permission>()) { $0.formUnion($1) }
    // Creating tenants is admin-only by contract (auth.proto: "CreateTenant creates a tenant (admin only)").
    let adminOnly: Set<Permission> = [MaestroPermissions.tenantsCreate]
    #expect(permissions.subtracting(others).subtracting(adminOnly).sorted() == [])
    #expect(adminOnly.isDisjoint(with: others), "an admin-only permission is granted to another role")
  }

  @Test(
    "sample decisions per role",
    arguments: [
      ("maestro.workflow.v1.WorkflowService/GetRun", Role.viewer, true),
      ("maestro.workflow.v1.WorkflowService/StartRun", .viewer, false),
      ("maestro.workflow.v1.WorkflowService/StartRun", .workflowOperator, true),
      ("maestro.workflow.v1.WorkflowService/RegisterWorkflow", .workflowOperator, false),
      ("maestro.workflow.v1.WorkflowService/RegisterWorkflow", .workflowAuthor, true),
      ("maestro.auth.v1.AuthService/ListAuditEvents", .securityAdmin, true),
      ("maestro.auth.v1.AuthService/ListAuditEvents", .tenantAdmin, false),
      ("maestro.auth.v1.AuthService/CreateTenant", .tenantAdmin, false),
      ("maestro.auth.v1.AuthService/CreateTenant", .admin, true),
      ("maestro.migration.v1.MigrationService/Apply", .platformOperator, true),
      ("maestro.migration.v1.MigrationService/Apply", .workflowAuthor, false),
      ("maestro.metrics.v1.MetricsService/GetWorkflowStats", .analyst, true),
      ("maestro.metrics.v1.MetricsService/RecordEvents", .analyst, false),
    ]
  )
  func decisions(method: String, role: Role, allowed: Bool) {
    let principal = Principal(subject: "s", tenant: "t", roles: [role])
    #expect((AccessPolicy.maestro.decide(method: method, principal: principal) == .allow) == allowed)
  }
}
