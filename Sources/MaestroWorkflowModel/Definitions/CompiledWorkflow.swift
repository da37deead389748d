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
    /// foreach: the items and the step run per item (boxed: a step inside a step).
    public var foreach: ForEach? {
      get { self.foreachBox?.value }
      set { self.foreachBox = newValue.map(Box.init) }
    }
    private var foreachBox: Box<ForEach>?

    public init(
      id: String, type: StepType, proto: Maestro_Workflow_V1_Step, dependsOn: [String], dependents: [String], input: JSONValue,
      when: Template?, retryPolicy: RetryPolicy, timeout: Duration?, allowFailure: Bool,
      cases: [(name: String, condition: Template, steps: [String])], defaultSteps: [String], gatedBy: String?,
      sleepDuration: Duration?, sleepUntil: Template?, failMessage: Template?, foreach: ForEach?
    ) {
      self.id = id
      self.type = type
      self.proto = proto
      self.dependsOn = dependsOn
      self.dependents = dependents
      self.input = input
      self.when = when
      self.retryPolicy = retryPolicy
      self.timeout = timeout
      self.allowFailure = allowFailure
      self.cases = cases
      self.defaultSteps = defaultSteps
      self.gatedBy = gatedBy
      self.sleepDuration = sleepDuration
      self.sleepUntil = sleepUntil
      self.failMessage = failMessage
      self.foreachBox = foreach.map(Box.init)
    }
  }

  /// A foreach step: `step` runs once per element of `items`, at most `concurrency` at once.
  /// Iteration `i` is the step attempt row `<id>[i]` (``iterationID(_:_:)``).
  public struct ForEach: Sendable {
    public static let defaultConcurrency = 10
    public static let maximumConcurrency = 1_000
    /// Most elements a foreach accepts (more fail the step, a user error).
    public static let maximumItems = 1_000
    public var items: Template
    public var concurrency: Int
    /// How many iterations may fail before the step fails (0: fail fast).
    public var toleratedFailures: Int
    /// The inner step, with the foreach step's id; `item` and `index` are in scope.
    public var step: CompiledStep
  }

  final class Box<Value: Sendable>: Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
  }

  /// The step id of iteration `index` of foreach step `id`.
  public static func iterationID(_ id: String, _ index: Int) -> String { "\(id)[\(index)]" }

  /// The foreach step id and index of an iteration's step id (nil for an ordinary step id).
  public static func parseIterationID(_ stepID: String) -> (step: String, index: Int)? {
    guard stepID.hasSuffix("]"), let open = stepID.lastIndex(of: "[") else { return nil }
    guard let index = Int(stepID[stepID.index(after: open)..<stepID.index(before: stepID.endIndex)]), index >= 0 else { return nil }
    return (String(stepID[..<open]), index)
  }

  /// The step definition an attempt row runs: the step itself, or for a foreach iteration
  /// (`<id>[i]`) the foreach's inner step.
  public func stepSpec(_ stepID: String) -> CompiledStep? {
    if let step = self.steps[stepID] { return step }
    guard let (id, _) = Self.parseIterationID(stepID) else { return nil }
    return self.steps[id]?.foreach?.step
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

  /// Whether any step is a foreach (the engine then tracks iterations on every advance).
  public var hasForeach: Bool { self.steps.values.contains { $0.type == .foreach } }

  /// The most runs of this workflow that may run at once under its run strategy (nil: no limit).
  public var runLimit: Int? {
    switch self.definition.runStrategy.mode {
    case .sequential: 1
    case .parallel, .unspecified: self.definition.runStrategy.maxConcurrentRuns > 0 ? Int(self.definition.runStrategy.maxConcurrentRuns) : nil
    default: nil
    }
  }

  /// Whether starts of this workflow may queue behind active runs.
  public var queuesRuns: Bool { self.runLimit != nil }
}

extension Google_Protobuf_Duration {
  /// As a Swift `Duration`.
  public var swiftDuration: Duration {
    .seconds(self.seconds) + .nanoseconds(Int64(self.nanos))
  }
}
