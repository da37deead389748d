public import MaestroProtos
public import SwiftProtobuf

/// A validated workflow definition, with its expressions parsed and its DAG indexed: what the
/// engine plans runs with. Built only by ``DefinitionValidator/compile(_:)``.
public struct CompiledWorkflow: Sendable {
  public struct CompiledStep: Sendable {
    public var id: String
    public var type: StepType
    public var proto: Maestro_Workflow_V1_Step
    public var dependsOn: [String]
    /// Steps that list this one in `depends_on`.
    public var dependents: [String]
    public var input: JSONValue
    public var when: Template?
    public var retryPolicy: RetryPolicy
    /// Per-attempt timeout.
    public var timeout: Duration?
    public var allowFailure: Bool
    /// switch: (case name, condition, steps).
    public var cases: [(name: String, condition: Template, steps: [String])]
    public var defaultSteps: [String]
    /// The switch that gates this step (lists it in a case or the default), if any.
    public var gatedBy: String?
    /// sleep: a fixed duration, or a template for the wake-up time.
    public var sleepDuration: Duration?
    public var sleepUntil: Template?
    /// fail: the message template.
    public var failMessage: Template?
  }

  public var definition: Maestro_Workflow_V1_WorkflowDefinition
  public var name: String { self.definition.name }
  public var version: Int { Int(self.definition.version) }
  /// Steps by id, and in a deterministic order (definition order).
  public var steps: [String: CompiledStep]
  public var order: [String]
  public var output: JSONValue
  public var runTimeout: Duration?
  public var sla: Duration?
  public var parameters: [Maestro_Workflow_V1_ParameterSpec]
}

extension Google_Protobuf_Duration {
  /// As a Swift `Duration`.
  public var swiftDuration: Duration {
    .seconds(self.seconds) + .nanoseconds(Int64(self.nanos))
  }
}
