import GRPCCore
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroWorkflowModel

/// The template RPCs: register, list and get parametric templates, and instantiate them into
/// concrete workflows (optionally starting a run) through the same paths as RegisterWorkflow
/// and StartRun.
extension WorkflowGRPCService {
  var templates: TemplateStore { TemplateStore(logger: self.engine.logger) }

  func registerTemplate(request: Maestro_Workflow_V1_RegisterTemplateRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_RegisterTemplateResponse {
    let caller = try Self.caller()
    guard request.hasTemplate else { throw MaestroError.invalidArgument(field: "template", "is required") }
    let issues = TemplateInstantiator.validate(request.template)
    guard issues.isEmpty else { throw MaestroError.invalidDefinition(issues, summary: "invalid template") }
    let (stored, created) = try await self.engine.inTenant(caller.tenant) { connection in
      try await self.templates.register(request.template, tenant: caller.tenant, createdBy: caller.subject, on: connection)
    }
    return .with {
      $0.template = stored.proto(tenant: caller.tenant)
      $0.created = created
    }
  }

  func listTemplates(request: Maestro_Workflow_V1_ListTemplatesRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_ListTemplatesResponse {
    let caller = try Self.caller()
    let size = try Paging.size(request.pageSize)
    let after = try Paging.decode(request.pageToken)?["n"]?.stringValue ?? ""
    var items = try await self.engine.inTenant(caller.tenant) { connection in
      try await self.templates.list(tenant: caller.tenant, namePrefix: request.namePrefix, after: after, limit: size + 1, on: connection)
    }
    var next = ""
    if items.count > size {
      items.removeLast()
      next = Paging.encode(["n": .string(items[items.count - 1].template.name)])
    }
    return .with {
      $0.templates = items.map { $0.proto(tenant: caller.tenant) }
      $0.nextPageToken = next
    }
  }

  func getTemplate(request: Maestro_Workflow_V1_GetTemplateRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_GetTemplateResponse {
    let caller = try Self.caller()
    guard !request.name.isEmpty else { throw MaestroError.invalidArgument(field: "name", "is required") }
    guard request.version >= 0 else { throw MaestroError.invalidArgument(field: "version", "must not be negative") }
    let stored = try await self.engine.inTenant(caller.tenant) { connection in
      try await self.templates.get(tenant: caller.tenant, name: request.name, version: Int(request.version), on: connection)
    }
    guard let stored else { throw Self.templateNotFound(request.name, version: request.version) }
    return .with { $0.template = stored.proto(tenant: caller.tenant) }
  }

  func instantiateTemplate(request: Maestro_Workflow_V1_InstantiateTemplateRequest, context: ServerContext) async throws -> Maestro_Workflow_V1_InstantiateTemplateResponse {
    let caller = try Self.caller()
    guard !request.templateName.isEmpty else { throw MaestroError.invalidArgument(field: "template_name", "is required") }
    guard request.templateVersion >= 0 else { throw MaestroError.invalidArgument(field: "template_version", "must not be negative") }
    guard request.idempotencyKey.count <= 256 else { throw MaestroError.invalidArgument(field: "idempotency_key", "at most 256 characters") }
    let mode = request.mode
    guard [.unspecified, .validateOnly, .register, .startRun].contains(mode) else {
      throw MaestroError.invalidArgument(field: "mode", "must be VALIDATE_ONLY, REGISTER or START_RUN")
    }
    let stored = try await self.engine.inTenant(caller.tenant) { connection in
      try await self.templates.get(tenant: caller.tenant, name: request.templateName, version: Int(request.templateVersion), on: connection)
    }
    guard let stored else { throw Self.templateNotFound(request.templateName, version: request.templateVersion) }

    let definition: Maestro_Workflow_V1_WorkflowDefinition
    switch TemplateInstantiator.instantiate(stored.template, parameters: JSONValue(request.parameters), workflowName: request.workflowName) {
    case .success(let concrete):
      definition = concrete
    case .failure(let failure):
      guard mode != .validateOnly else { return .with { $0.issues = failure.issues.map(Self.validationIssue) } }
      throw MaestroError.invalidDefinition(failure.issues, summary: "cannot instantiate template '\(stored.template.name)' v\(stored.template.version)")
    }
    if mode == .validateOnly { return .init() }

    // The same path as RegisterWorkflow (the instantiator has run the definition validator).
    let (workflow, _) = try await self.engine.inTenant(caller.tenant) { connection in
      try await self.engine.definitions.register(definition, tenant: caller.tenant, createdBy: caller.subject, on: connection)
    }
    var response = Maestro_Workflow_V1_InstantiateTemplateResponse()
    response.workflow = Self.workflow(workflow, tenant: caller.tenant)
    guard mode == .startRun else { return response }
    let (run, _) = try await self.engine.startRun(tenant: caller.tenant, .init(
      workflowName: workflow.definition.name,
      workflowVersion: Int(workflow.definition.version),
      input: JSONValue(request.input),
      idempotencyKey: request.idempotencyKey.isEmpty ? nil : request.idempotencyKey,
      labels: request.runLabels,
      startedBy: caller.subject
    ))
    response.run = run.proto
    return response
  }

  static func templateNotFound(_ name: String, version: Int32) -> MaestroError {
    MaestroError.notFound("template '\(name)'\(version > 0 ? " version \(version)" : "") not found")
  }

  static func validationIssue(_ issue: DefinitionIssue) -> Maestro_Common_V1_ValidationIssue {
    .with {
      $0.path = issue.path
      $0.message = issue.message
      $0.code = issue.code
    }
  }
}
