import Foundation
import Logging
import MaestroCore
import MaestroProtos
import MaestroWorkflowModel

/// Registers the shipped templates (`workflows/templates/*.yaml`) for one tenant at startup,
/// like ``ReferenceWorkflows``. Idempotent: an unchanged template is not registered again.
///
/// Unlike a reference workflow, an invalid template file is logged as an error and skipped
/// rather than stopping the service: templates are conveniences nothing else depends on.
struct ShippedTemplates: Sendable {
  let engine: WorkflowEngine
  let directory: String
  let tenant: String

  func install() async throws {
    guard !self.tenant.isEmpty else { return }
    guard let files = DefinitionLoader.files(in: self.directory) else {
      self.engine.logger.warning("no shipped templates", metadata: ["directory": "\(self.directory)"])
      return
    }
    let store = TemplateStore(logger: self.engine.logger)
    for file in files {
      let template: Maestro_Workflow_V1_Template
      do {
        template = try TemplateLoader.template(file: "\(self.directory)/\(file)")
      } catch {
        self.engine.logger.error("template file skipped", metadata: ["file": "\(file)", "error": "\(error)"])
        continue
      }
      let issues = TemplateInstantiator.validate(template)
      guard issues.isEmpty else {
        self.engine.logger.error("invalid template skipped", metadata: ["file": "\(file)", "issues": "\(issues.map(\.description).joined(separator: "; "))"])
        continue
      }
      let (stored, created) = try await self.engine.inTenant(self.tenant) { connection in
        try await store.register(template, tenant: self.tenant, createdBy: "workflow-service", on: connection)
      }
      self.engine.logger.info(
        created ? "registered template" : "template up to date",
        metadata: ["template": "\(stored.template.name)", "version": "\(stored.template.version)", "tenant": "\(self.tenant)"]
      )
    }
  }
}
