/// Maestro's permission matrix: the permission every RPC of the five services requires, and
/// the permissions each of the eight roles grants. Methods not listed are denied (fail closed);
/// a test checks that every method in the generated service descriptors is listed.
///
/// Permissions are `<service>.<resource>.<action>`. Role bindings are per tenant; `admin` holds
/// every permission (and alone may act across tenants, explicitly).
extension AccessPolicy {
  public static let maestro: AccessPolicy = {
    var policy = AccessPolicy()
    for (method, requirement) in MaestroPermissions.requirements {
      policy.require(requirement, for: method)
    }
    for (role, permissions) in MaestroPermissions.grants {
      policy.grant(permissions, to: role)
    }
    return policy
  }()
}

/// The raw tables behind ``AccessPolicy/maestro`` (also rendered in the README).
public enum MaestroPermissions {
  // auth-gateway
  public static let keysRead: Permission = "auth.keys.read"
  public static let keysRotate: Permission = "auth.keys.rotate"
  public static let tenantsRead: Permission = "auth.tenants.read"
  public static let tenantsCreate: Permission = "auth.tenants.create"
  public static let usersRead: Permission = "auth.users.read"
  public static let usersWrite: Permission = "auth.users.write"
  public static let serviceAccountsRead: Permission = "auth.service_accounts.read"
  public static let serviceAccountsWrite: Permission = "auth.service_accounts.write"
  public static let roleBindingsRead: Permission = "auth.role_bindings.read"
  public static let roleBindingsWrite: Permission = "auth.role_bindings.write"
  public static let sessionsRead: Permission = "auth.sessions.read"
  public static let sessionsRevoke: Permission = "auth.sessions.revoke"
  public static let auditRead: Permission = "auth.audit.read"
  // workflow-service
  public static let definitionsRead: Permission = "workflow.definitions.read"
  public static let definitionsWrite: Permission = "workflow.definitions.write"
  public static let templatesInstantiate: Permission = "workflow.templates.instantiate"
  public static let runsRead: Permission = "workflow.runs.read"
  public static let runsExecute: Permission = "workflow.runs.execute"
  /// SignalRun: answer a waiting step (approvals). Analysts have it without runsExecute; an
  /// approval step can narrow it further to listed roles or subjects.
  public static let runsSignal: Permission = "workflow.runs.signal"
  public static let tasksWork: Permission = "workflow.tasks.work"
  // scheduler
  public static let schedulesRead: Permission = "scheduler.schedules.read"
  public static let schedulesWrite: Permission = "scheduler.schedules.write"
  // metrics-service
  public static let eventsRecord: Permission = "metrics.events.record"
  public static let slosRead: Permission = "metrics.slos.read"
  public static let slosWrite: Permission = "metrics.slos.write"
  public static let alertsRead: Permission = "metrics.alerts.read"
  public static let alertsManage: Permission = "metrics.alerts.manage"
  public static let receiversRead: Permission = "metrics.receivers.read"
  public static let receiversWrite: Permission = "metrics.receivers.write"
  public static let statsRead: Permission = "metrics.stats.read"
  // migration-service
  public static let migrationStatusRead: Permission = "migration.status.read"
  public static let migrationApply: Permission = "migration.apply"
  public static let migrationExpectationsRegister: Permission = "migration.expectations.register"

  /// Requirement of every method, by `package.Service/Method`.
  public static let requirements: [String: AccessPolicy.Requirement] = {
    var table: [String: AccessPolicy.Requirement] = [:]
    func add(_ service: String, _ methods: [String: AccessPolicy.Requirement]) {
      for (method, requirement) in methods { table["\(service)/\(method)"] = requirement }
    }
    add("grpc.health.v1.Health", ["Check": .public, "Watch": .public])
    add("maestro.auth.v1.AuthService", [
      "Token": .public,
      "RevokeToken": .public,
      "GetJWKS": .public,
      "RotateSigningKeys": .permission(keysRotate),
      "ListSigningKeys": .permission(keysRead),
      "CreateTenant": .permission(tenantsCreate),
      "GetTenant": .permission(tenantsRead),
      "ListTenants": .permission(tenantsRead),
      "CreateUser": .permission(usersWrite),
      "GetUser": .permission(usersRead),
      "ListUsers": .permission(usersRead),
      "UpdateUser": .permission(usersWrite),
      "DeleteUser": .permission(usersWrite),
      "SetUserPassword": .permission(usersWrite),
      "CreateServiceAccount": .permission(serviceAccountsWrite),
      "ListServiceAccounts": .permission(serviceAccountsRead),
      "DeleteServiceAccount": .permission(serviceAccountsWrite),
      "RotateServiceAccountSecret": .permission(serviceAccountsWrite),
      "CreateRoleBinding": .permission(roleBindingsWrite),
      "ListRoleBindings": .permission(roleBindingsRead),
      "DeleteRoleBinding": .permission(roleBindingsWrite),
      "ListSessions": .permission(sessionsRead),
      "RevokeSession": .permission(sessionsRevoke),
      "Logout": .authenticated,
      "WhoAmI": .authenticated,
      "ListAuditEvents": .permission(auditRead),
    ])
    add("maestro.workflow.v1.WorkflowService", [
      "RegisterWorkflow": .permission(definitionsWrite),
      "GetWorkflow": .permission(definitionsRead),
      "ListWorkflows": .permission(definitionsRead),
      "ListWorkflowVersions": .permission(definitionsRead),
      "ValidateWorkflow": .permission(definitionsRead),
      "DeleteWorkflow": .permission(definitionsWrite),
      "RegisterTemplate": .permission(definitionsWrite),
      "ListTemplates": .permission(definitionsRead),
      "GetTemplate": .permission(definitionsRead),
      "InstantiateTemplate": .permission(templatesInstantiate),
      "StartRun": .permission(runsExecute),
      "GetRun": .permission(runsRead),
      "ListRuns": .permission(runsRead),
      "CancelRun": .permission(runsExecute),
      "RetryRun": .permission(runsExecute),
      "SignalRun": .permission(runsSignal),
      "GetRunHistory": .permission(runsRead),
      "WatchRun": .permission(runsRead),
    ])
    add("maestro.workflow.v1.WorkerService", [
      "PollTask": .permission(tasksWork),
      "HeartbeatTask": .permission(tasksWork),
      "CompleteTask": .permission(tasksWork),
      "FailTask": .permission(tasksWork),
    ])
    add("maestro.scheduler.v1.SchedulerService", [
      "CreateSchedule": .permission(schedulesWrite),
      "GetSchedule": .permission(schedulesRead),
      "ListSchedules": .permission(schedulesRead),
      "UpdateSchedule": .permission(schedulesWrite),
      "DeleteSchedule": .permission(schedulesWrite),
      "PauseSchedule": .permission(schedulesWrite),
      "ResumeSchedule": .permission(schedulesWrite),
      "TriggerSchedule": .permission(schedulesWrite),
      "PreviewSchedule": .permission(schedulesRead),
      "BackfillSchedule": .permission(schedulesWrite),
    ])
    add("maestro.metrics.v1.MetricsService", [
      "RecordEvents": .permission(eventsRecord),
      "CreateSLO": .permission(slosWrite),
      "GetSLO": .permission(slosRead),
      "ListSLOs": .permission(slosRead),
      "UpdateSLO": .permission(slosWrite),
      "DeleteSLO": .permission(slosWrite),
      "GetSLOStatus": .permission(slosRead),
      "ListSLOStatuses": .permission(slosRead),
      "ListAlerts": .permission(alertsRead),
      "AcknowledgeAlert": .permission(alertsManage),
      "CreateSilence": .permission(alertsManage),
      "ListSilences": .permission(alertsRead),
      "DeleteSilence": .permission(alertsManage),
      "CreateReceiver": .permission(receiversWrite),
      "ListReceivers": .permission(receiversRead),
      "DeleteReceiver": .permission(receiversWrite),
      "GetWorkflowStats": .permission(statsRead),
      "ExportPrometheusRules": .permission(slosRead),
    ])
    add("maestro.migration.v1.MigrationService", [
      "GetStatus": .permission(migrationStatusRead),
      "Plan": .permission(migrationStatusRead),
      "Apply": .permission(migrationApply),
      "Rollback": .permission(migrationApply),
      "Lint": .permission(migrationStatusRead),
      "RegisterSchemaExpectation": .permission(migrationExpectationsRegister),
    ])
    return table
  }()

  /// Read access to a tenant's workflows, runs, schedules, SLOs and alerts.
  static let readOnly: Set<Permission> = [
    definitionsRead, runsRead, schedulesRead, slosRead, alertsRead, receiversRead, statsRead,
  ]

  /// The permissions each role grants.
  public static let grants: [Role: Set<Permission>] = [
    .viewer: readOnly,
    .analyst: readOnly.union([runsSignal]),
    .workflowOperator: readOnly.union([runsExecute, runsSignal, templatesInstantiate, schedulesWrite, alertsManage, tasksWork]),
    .workflowAuthor: readOnly.union([definitionsWrite, runsExecute, runsSignal, templatesInstantiate, schedulesWrite]),
    .platformOperator: readOnly.union([
      keysRead, tenantsRead, eventsRecord, slosWrite, alertsManage, receiversWrite,
      migrationStatusRead, migrationApply, migrationExpectationsRegister, sessionsRead,
      runsExecute, runsSignal, tasksWork,
    ]),
    .securityAdmin: [
      keysRead, keysRotate, tenantsRead, usersRead, usersWrite, serviceAccountsRead,
      serviceAccountsWrite, roleBindingsRead, roleBindingsWrite, sessionsRead, sessionsRevoke,
      auditRead,
    ],
    .tenantAdmin: readOnly.union([
      tenantsRead, usersRead, usersWrite, serviceAccountsRead, serviceAccountsWrite,
      roleBindingsRead, roleBindingsWrite, sessionsRead, sessionsRevoke, definitionsWrite,
      runsExecute, runsSignal, templatesInstantiate, schedulesWrite, slosWrite, alertsManage, receiversWrite,
    ]),
    .admin: Set(requirements.values.compactMap { requirement in
      if case .permission(let permission) = requirement { permission } else { nil }
    }),
  ]
}
