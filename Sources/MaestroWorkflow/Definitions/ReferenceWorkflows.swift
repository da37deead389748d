import Foundation
import Logging
import MaestroCore
import MaestroWorkflowModel

/// Registers the shipped reference workflows (`workflows/reference/*.yaml`) for one tenant at
/// startup. Idempotent: an unchanged definition is not registered again.
struct ReferenceWorkflows: Sendable {
  let engine: WorkflowEngine
  let directory: String
  let tenant: String

  func install() async throws {
    guard !self.tenant.isEmpty else { return }
    guard let files = DefinitionLoader.files(in: self.directory) else {
      self.engine.logger.warning("no reference workflows", metadata: ["directory": "\(self.directory)"])
      return
    }
    for file in files {
      let definition = try DefinitionLoader.definition(file: "\(self.directory)/\(file)")
      let issues = DefinitionValidator.validate(definition)
      guard issues.isEmpty else { throw MaestroError.invalidDefinition(issues, summary: "reference workflow \(file) is invalid") }
      let (stored, created) = try await self.engine.inTenant(self.tenant) { connection in
        try await self.engine.definitions.register(definition, tenant: self.tenant, createdBy: "workflow-service", on: connection)
      }
      self.engine.logger.info(
        created ? "registered reference workflow" : "reference workflow up to date",
        metadata: ["workflow": "\(stored.definition.name)", "version": "\(stored.definition.version)", "tenant": "\(self.tenant)"]
      )
    }
  }
}
