import MaestroProtos

private typealias WF = Maestro_Workflow_V1_WorkflowService.Method
private typealias WK = Maestro_Workflow_V1_WorkerService.Method
private typealias SC = Maestro_Scheduler_V1_SchedulerService.Method
private typealias MT = Maestro_Metrics_V1_MetricsService.Method
private typealias MG = Maestro_Migration_V1_MigrationService.Method

extension BackendRoute {
  /// Every REST route to a backend. Each is authorised with the permission of its RPC in
  /// `AccessPolicy.maestro`, exactly as the RPC is over gRPC.
  public static let maestro: [BackendRoute] = workflows + templates + runs + workers + schedules + slos + alerts + migrations

  // MARK: workflow-service

  static let workflows: [BackendRoute] = [
    .make("POST", "/v1/workflows", WF.RegisterWorkflow.descriptor, Maestro_Workflow_V1_RegisterWorkflowRequest.self, Maestro_Workflow_V1_RegisterWorkflowResponse.self,
          body: .field("definition"), acceptsYAML: true, summary: "Register a workflow definition (a new version when it changed); the body is the definition, JSON or YAML"),
    .make("GET", "/v1/workflows", WF.ListWorkflows.descriptor, Maestro_Workflow_V1_ListWorkflowsRequest.self, Maestro_Workflow_V1_ListWorkflowsResponse.self,
          body: .query, summary: "List workflows (latest versions)"),
    .make("POST", "/v1/workflows:validate", WF.ValidateWorkflow.descriptor, Maestro_Workflow_V1_ValidateWorkflowRequest.self, Maestro_Workflow_V1_ValidateWorkflowResponse.self,
          body: .field("definition"), acceptsYAML: true, summary: "Validate a definition without registering it"),
    .make("GET", "/v1/workflows/{name}", WF.GetWorkflow.descriptor, Maestro_Workflow_V1_GetWorkflowRequest.self, Maestro_Workflow_V1_GetWorkflowResponse.self,
          body: .query, pathFields: ["name": "name"], summary: "Get a workflow definition (latest, or ?version=)"),
    .make("GET", "/v1/workflows/{name}/versions", WF.ListWorkflowVersions.descriptor, Maestro_Workflow_V1_ListWorkflowVersionsRequest.self, Maestro_Workflow_V1_ListWorkflowVersionsResponse.self,
          body: .query, pathFields: ["name": "name"], summary: "List a workflow's versions"),
    .make("DELETE", "/v1/workflows/{name}", WF.DeleteWorkflow.descriptor, Maestro_Workflow_V1_DeleteWorkflowRequest.self, Maestro_Workflow_V1_DeleteWorkflowResponse.self,
          body: .query, pathFields: ["name": "name"], summary: "Delete a workflow (all versions, or ?version=)"),
    .make("GET", "/v1/workflows/{name}/stats", MT.GetWorkflowStats.descriptor, Maestro_Metrics_V1_GetWorkflowStatsRequest.self, Maestro_Metrics_V1_GetWorkflowStatsResponse.self,
          body: .query, pathFields: ["name": "workflow"], summary: "A workflow's run statistics (metrics-service)"),
  ]

  static let templates: [BackendRoute] = [
    .make("POST", "/v1/templates", WF.RegisterTemplate.descriptor, Maestro_Workflow_V1_RegisterTemplateRequest.self, Maestro_Workflow_V1_RegisterTemplateResponse.self,
          body: .field("template"), acceptsYAML: true, summary: "Register a parametric template; the body is the template, JSON or YAML"),
    .make("GET", "/v1/templates", WF.ListTemplates.descriptor, Maestro_Workflow_V1_ListTemplatesRequest.self, Maestro_Workflow_V1_ListTemplatesResponse.self,
          body: .query, summary: "List templates"),
    .make("GET", "/v1/templates/{name}", WF.GetTemplate.descriptor, Maestro_Workflow_V1_GetTemplateRequest.self, Maestro_Workflow_V1_GetTemplateResponse.self,
          body: .query, pathFields: ["name": "name"], summary: "Get a template (latest, or ?version=)"),
    .make("POST", "/v1/templates/{name}:instantiate", WF.InstantiateTemplate.descriptor, Maestro_Workflow_V1_InstantiateTemplateRequest.self, Maestro_Workflow_V1_InstantiateTemplateResponse.self,
          body: .whole, pathFields: ["name": "template_name"], aliases: ["version": "template_version"], summary: "Instantiate a template: register a workflow and/or start a run"),
  ]

  static let runs: [BackendRoute] = [
    .make("POST", "/v1/runs", WF.StartRun.descriptor, Maestro_Workflow_V1_StartRunRequest.self, Maestro_Workflow_V1_StartRunResponse.self,
          body: .whole, aliases: ["workflow": "workflow_name", "version": "workflow_version"],
          summary: "Start a run: {\"workflow\", \"version\", \"input\", \"idempotency_key\"}"),
    .make("GET", "/v1/runs", WF.ListRuns.descriptor, Maestro_Workflow_V1_ListRunsRequest.self, Maestro_Workflow_V1_ListRunsResponse.self,
          body: .query, aliases: ["workflow": "workflow_name", "status": "statuses"], enumPrefixes: ["statuses": "RUN_STATUS_"],
          summary: "List runs (?status=&workflow=&page_size=&page_token=)"),
    .make("GET", "/v1/runs/{id}", WF.GetRun.descriptor, Maestro_Workflow_V1_GetRunRequest.self, Maestro_Workflow_V1_GetRunResponse.self,
          body: .query, pathFields: ["id": "run_id"], summary: "Get a run with its steps"),
    .make("POST", "/v1/runs/{id}:cancel", WF.CancelRun.descriptor, Maestro_Workflow_V1_CancelRunRequest.self, Maestro_Workflow_V1_CancelRunResponse.self,
          body: .whole, pathFields: ["id": "run_id"], summary: "Cancel a run"),
    .make("POST", "/v1/runs/{id}:retry", WF.RetryRun.descriptor, Maestro_Workflow_V1_RetryRunRequest.self, Maestro_Workflow_V1_RetryRunResponse.self,
          body: .whole, pathFields: ["id": "run_id"], summary: "Retry a failed run from its failed steps"),
    .make("POST", "/v1/runs/{id}:signal", WF.SignalRun.descriptor, Maestro_Workflow_V1_SignalRunRequest.self, Maestro_Workflow_V1_SignalRunResponse.self,
          body: .whole, pathFields: ["id": "run_id"], aliases: ["signal": "signal_name"], summary: "Send a signal (or approval) to a run"),
    .make("GET", "/v1/runs/{id}/history", WF.GetRunHistory.descriptor, Maestro_Workflow_V1_GetRunHistoryRequest.self, Maestro_Workflow_V1_GetRunHistoryResponse.self,
          body: .query, pathFields: ["id": "run_id"], summary: "A run's event history, paginated"),
    .make("GET", "/v1/runs/{id}/events", WF.WatchRun.descriptor, Maestro_Workflow_V1_WatchRunRequest.self, Maestro_Workflow_V1_WatchRunResponse.self,
          body: .query, pathFields: ["id": "run_id"], serverSentEvents: true,
          summary: "A run's events, live, as Server-Sent Events (resumes after Last-Event-ID or ?from_sequence=)"),
  ]

  static let workers: [BackendRoute] = [
    .make("POST", "/v1/tasks:poll", WK.PollTask.descriptor, Maestro_Workflow_V1_PollTaskRequest.self, Maestro_Workflow_V1_PollTaskResponse.self,
          body: .whole, summary: "Worker API: long-poll for a task"),
    .make("POST", "/v1/tasks:heartbeat", WK.HeartbeatTask.descriptor, Maestro_Workflow_V1_HeartbeatTaskRequest.self, Maestro_Workflow_V1_HeartbeatTaskResponse.self,
          body: .whole, summary: "Worker API: heartbeat a claimed task"),
    .make("POST", "/v1/tasks:complete", WK.CompleteTask.descriptor, Maestro_Workflow_V1_CompleteTaskRequest.self, Maestro_Workflow_V1_CompleteTaskResponse.self,
          body: .whole, summary: "Worker API: complete a task with its output"),
    .make("POST", "/v1/tasks:fail", WK.FailTask.descriptor, Maestro_Workflow_V1_FailTaskRequest.self, Maestro_Workflow_V1_FailTaskResponse.self,
          body: .whole, summary: "Worker API: fail a task"),
  ]

  // MARK: scheduler

  static let schedules: [BackendRoute] = [
    .make("POST", "/v1/schedules", SC.CreateSchedule.descriptor, Maestro_Scheduler_V1_CreateScheduleRequest.self, Maestro_Scheduler_V1_CreateScheduleResponse.self,
          body: .field("schedule"), summary: "Create a schedule; the body is the schedule"),
    .make("GET", "/v1/schedules", SC.ListSchedules.descriptor, Maestro_Scheduler_V1_ListSchedulesRequest.self, Maestro_Scheduler_V1_ListSchedulesResponse.self,
          body: .query, aliases: ["workflow": "workflow_name"], summary: "List schedules"),
    .make("POST", "/v1/schedules:preview", SC.PreviewSchedule.descriptor, Maestro_Scheduler_V1_PreviewScheduleRequest.self, Maestro_Scheduler_V1_PreviewScheduleResponse.self,
          body: .whole, summary: "Preview the next fire times of a schedule or a spec"),
    .make("GET", "/v1/schedules/{id}", SC.GetSchedule.descriptor, Maestro_Scheduler_V1_GetScheduleRequest.self, Maestro_Scheduler_V1_GetScheduleResponse.self,
          body: .query, pathFields: ["id": "schedule_id"], summary: "Get a schedule"),
    .make("PATCH", "/v1/schedules/{id}", SC.UpdateSchedule.descriptor, Maestro_Scheduler_V1_UpdateScheduleRequest.self, Maestro_Scheduler_V1_UpdateScheduleResponse.self,
          body: .update("schedule"), pathFields: ["id": "schedule.id"], summary: "Update a schedule (update_mask defaults to the fields sent)"),
    .make("DELETE", "/v1/schedules/{id}", SC.DeleteSchedule.descriptor, Maestro_Scheduler_V1_DeleteScheduleRequest.self, Maestro_Scheduler_V1_DeleteScheduleResponse.self,
          body: .query, pathFields: ["id": "schedule_id"], summary: "Delete a schedule"),
    .make("POST", "/v1/schedules/{id}:pause", SC.PauseSchedule.descriptor, Maestro_Scheduler_V1_PauseScheduleRequest.self, Maestro_Scheduler_V1_PauseScheduleResponse.self,
          body: .whole, pathFields: ["id": "schedule_id"], summary: "Pause a schedule"),
    .make("POST", "/v1/schedules/{id}:resume", SC.ResumeSchedule.descriptor, Maestro_Scheduler_V1_ResumeScheduleRequest.self, Maestro_Scheduler_V1_ResumeScheduleResponse.self,
          body: .whole, pathFields: ["id": "schedule_id"], summary: "Resume a schedule"),
    .make("POST", "/v1/schedules/{id}:trigger", SC.TriggerSchedule.descriptor, Maestro_Scheduler_V1_TriggerScheduleRequest.self, Maestro_Scheduler_V1_TriggerScheduleResponse.self,
          body: .whole, pathFields: ["id": "schedule_id"], summary: "Start a run of a schedule now"),
    .make("POST", "/v1/schedules/{id}:backfill", SC.BackfillSchedule.descriptor, Maestro_Scheduler_V1_BackfillScheduleRequest.self, Maestro_Scheduler_V1_BackfillScheduleResponse.self,
          body: .whole, pathFields: ["id": "schedule_id"], summary: "Start the runs a schedule would have started in a past time range"),
  ]

  // MARK: metrics-service

  static let slos: [BackendRoute] = [
    .make("POST", "/v1/slos", MT.CreateSLO.descriptor, Maestro_Metrics_V1_CreateSLORequest.self, Maestro_Metrics_V1_CreateSLOResponse.self,
          body: .field("slo"), summary: "Create an SLO; the body is the SLO"),
    .make("GET", "/v1/slos", MT.ListSLOs.descriptor, Maestro_Metrics_V1_ListSLOsRequest.self, Maestro_Metrics_V1_ListSLOsResponse.self,
          body: .query, summary: "List SLOs"),
    .make("GET", "/v1/slos:status", MT.ListSLOStatuses.descriptor, Maestro_Metrics_V1_ListSLOStatusesRequest.self, Maestro_Metrics_V1_ListSLOStatusesResponse.self,
          body: .query, summary: "Every SLO's current status and error budget"),
    .make("GET", "/v1/slos:prometheus-rules", MT.ExportPrometheusRules.descriptor, Maestro_Metrics_V1_ExportPrometheusRulesRequest.self, Maestro_Metrics_V1_ExportPrometheusRulesResponse.self,
          body: .query, aliases: ["slo": "slo_names"], summary: "Prometheus recording and alerting rules for SLOs"),
    .make("GET", "/v1/slos/{name}", MT.GetSLO.descriptor, Maestro_Metrics_V1_GetSLORequest.self, Maestro_Metrics_V1_GetSLOResponse.self,
          body: .query, pathFields: ["name": "name"], summary: "Get an SLO"),
    .make("PATCH", "/v1/slos/{name}", MT.UpdateSLO.descriptor, Maestro_Metrics_V1_UpdateSLORequest.self, Maestro_Metrics_V1_UpdateSLOResponse.self,
          body: .update("slo"), pathFields: ["name": "slo.name"], summary: "Update an SLO (update_mask defaults to the fields sent)"),
    .make("DELETE", "/v1/slos/{name}", MT.DeleteSLO.descriptor, Maestro_Metrics_V1_DeleteSLORequest.self, Maestro_Metrics_V1_DeleteSLOResponse.self,
          body: .query, pathFields: ["name": "name"], summary: "Delete an SLO"),
    .make("GET", "/v1/slos/{name}/status", MT.GetSLOStatus.descriptor, Maestro_Metrics_V1_GetSLOStatusRequest.self, Maestro_Metrics_V1_GetSLOStatusResponse.self,
          body: .query, pathFields: ["name": "slo_name"], summary: "An SLO's status: SLI, error budget, burn rates"),
    .make("POST", "/v1/events:record", MT.RecordEvents.descriptor, Maestro_Metrics_V1_RecordEventsRequest.self, Maestro_Metrics_V1_RecordEventsResponse.self,
          body: .whole, summary: "Record outcome events (idempotent by batch_id)"),
  ]

  static let alerts: [BackendRoute] = [
    .make("GET", "/v1/alerts", MT.ListAlerts.descriptor, Maestro_Metrics_V1_ListAlertsRequest.self, Maestro_Metrics_V1_ListAlertsResponse.self,
          body: .query, aliases: ["state": "states", "slo": "slo_name"], enumPrefixes: ["states": "ALERT_STATE_", "severity": "ALERT_SEVERITY_"],
          summary: "List alerts"),
    .make("POST", "/v1/alerts/{id}:acknowledge", MT.AcknowledgeAlert.descriptor, Maestro_Metrics_V1_AcknowledgeAlertRequest.self, Maestro_Metrics_V1_AcknowledgeAlertResponse.self,
          body: .whole, pathFields: ["id": "alert_id"], summary: "Acknowledge an alert"),
    .make("POST", "/v1/alerts/silences", MT.CreateSilence.descriptor, Maestro_Metrics_V1_CreateSilenceRequest.self, Maestro_Metrics_V1_CreateSilenceResponse.self,
          body: .field("silence"), summary: "Create a silence; the body is the silence"),
    .make("GET", "/v1/alerts/silences", MT.ListSilences.descriptor, Maestro_Metrics_V1_ListSilencesRequest.self, Maestro_Metrics_V1_ListSilencesResponse.self,
          body: .query, summary: "List silences"),
    .make("DELETE", "/v1/alerts/silences/{id}", MT.DeleteSilence.descriptor, Maestro_Metrics_V1_DeleteSilenceRequest.self, Maestro_Metrics_V1_DeleteSilenceResponse.self,
          body: .query, pathFields: ["id": "silence_id"], summary: "Delete a silence"),
    .make("POST", "/v1/alerts/receivers", MT.CreateReceiver.descriptor, Maestro_Metrics_V1_CreateReceiverRequest.self, Maestro_Metrics_V1_CreateReceiverResponse.self,
          body: .field("receiver"), summary: "Create a notification receiver; the body is the receiver"),
    .make("GET", "/v1/alerts/receivers", MT.ListReceivers.descriptor, Maestro_Metrics_V1_ListReceiversRequest.self, Maestro_Metrics_V1_ListReceiversResponse.self,
          body: .query, summary: "List notification receivers"),
    .make("DELETE", "/v1/alerts/receivers/{name}", MT.DeleteReceiver.descriptor, Maestro_Metrics_V1_DeleteReceiverRequest.self, Maestro_Metrics_V1_DeleteReceiverResponse.self,
          body: .query, pathFields: ["name": "name"], summary: "Delete a notification receiver"),
  ]

  // MARK: migration-service

  static let migrations: [BackendRoute] = [
    .make("GET", "/v1/migrations/status", MG.GetStatus.descriptor, Maestro_Migration_V1_GetStatusRequest.self, Maestro_Migration_V1_GetStatusResponse.self,
          body: .query, summary: "Migration status of every service (or ?service=)"),
    .make("POST", "/v1/migrations:plan", MG.Plan.descriptor, Maestro_Migration_V1_PlanRequest.self, Maestro_Migration_V1_PlanResponse.self,
          body: .whole, summary: "Plan pending migrations (dry run)"),
    .make("POST", "/v1/migrations:apply", MG.Apply.descriptor, Maestro_Migration_V1_ApplyRequest.self, Maestro_Migration_V1_ApplyResponse.self,
          body: .whole, summary: "Apply pending migrations of a phase"),
    .make("POST", "/v1/migrations:rollback", MG.Rollback.descriptor, Maestro_Migration_V1_RollbackRequest.self, Maestro_Migration_V1_RollbackResponse.self,
          body: .whole, summary: "Roll a service's schema back to a version"),
    .make("POST", "/v1/migrations:lint", MG.Lint.descriptor, Maestro_Migration_V1_LintRequest.self, Maestro_Migration_V1_LintResponse.self,
          body: .whole, summary: "Lint SQL for locking hazards"),
    .make("POST", "/v1/migrations/expectations", MG.RegisterSchemaExpectation.descriptor, Maestro_Migration_V1_RegisterSchemaExpectationRequest.self, Maestro_Migration_V1_RegisterSchemaExpectationResponse.self,
          body: .whole, summary: "Register the schema version a running instance needs"),
  ]
}
