import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroWorkflowModel
import PostgresNIO

/// The durable execution engine's operations. Every state change is one transaction on a
/// locked run row; executors claim ready steps with `FOR UPDATE SKIP LOCKED` under a lease,
/// and a completion carrying an old lease token is rejected (fencing).
///
/// Two pools: `api` connections see only the tenant set per transaction (row-level security on
/// `maestro.tenant`); `engine` connections run with `maestro.tenant = '*'` for system work.
final class WorkflowEngine: Sendable {
  let api: Database
  let engine: Database
  let definitions: DefinitionStore
  let configuration: EngineConfiguration
  let metrics: WorkflowMetrics
  let logger: Logger
  let now: @Sendable () -> Date
  /// Runs claimed steps (the built-ins; tests substitute their own).
  let executor: any StepExecutor
  /// Wakes idle executors (NOTIFY from any replica, or local work).
  let wakeup = Wakeup()
  /// Wakes workers' long polls (PollTask) when task steps may have become ready.
  let taskWakeup = Wakeup()
  /// Wakes the timer loop when this replica creates a timer.
  let timerWakeup = Wakeup()
  /// Asks the runner's notifier to tell the other replicas that work became ready.
  let notifyRequests = Wakeup()
  /// Writes concurrent StartRun calls of a tenant together (group commit, ``StartBatch``).
  let starts: GroupCommitter<String, PlannedStart, StartWriteOutcome>

  init(
    api: Database,
    engine: Database,
    definitions: DefinitionStore,
    configuration: EngineConfiguration,
    metrics: WorkflowMetrics,
    logger: Logger,
    executor: any StepExecutor = BuiltinStepExecutor(),
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.executor = executor
    self.api = api
    self.engine = engine
    self.definitions = definitions
    self.configuration = configuration
    self.metrics = metrics
    self.logger = logger
    self.now = now
    self.starts = GroupCommitter(maxLeaders: configuration.startWriters, maxBatch: configuration.startBatchSize) { [api, logger] tenant, items in
      await Self.writeStarts(tenant: tenant, items, api: api, logger: logger)
    }
  }

  /// Call after committing a transaction that made steps READY: wakes this replica's executors
  /// now, and the other replicas through one `NOTIFY` per burst (sent by ``EngineRunner``'s
  /// notifier, outside the hot transactions).
  func readyWorkCommitted() {
    self.wakeup.signal()
    self.taskWakeup.signal()
    self.notifyRequests.signal()
  }

  /// Runs `body` in a transaction that can see only `tenant`'s rows.
  func inTenant<Result: Sendable>(_ tenant: String, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
    try await self.api.withTransaction { connection in
      _ = try await connection.query("SELECT set_config('maestro.tenant', \(tenant), true)", logger: self.logger).collect()
      return try await body(connection)
    }
  }

  // MARK: Starting runs

  struct StartRequest: Sendable {
    var workflowName: String
    var workflowVersion: Int
    var input: JSONValue
    var idempotencyKey: String?
    var labels: [String: String]
    var startedBy: String?
  }

  /// Starts a run, or returns the run an idempotency key already started.
  ///
  /// The first transition is planned here, in memory, and written with the run by
  /// `start_runs`, together with the other starts of the tenant that arrive meanwhile (group
  /// commit: one statement and one commit per batch, see ``GroupCommitter``). The definition
  /// comes from the compiled cache; "latest" is the cached latest version, which `start_runs`
  /// checks against the table (a newer registration makes it answer 'stale' and the start is
  /// planned again with the new version).
  func startRun(tenant: String, _ request: StartRequest) async throws -> (RunRecord, created: Bool) {
    var refreshLatest = false
    for _ in 0..<3 {
      let cached = refreshLatest ? nil : self.definitions.cached(tenant: tenant, name: request.workflowName, version: request.workflowVersion)
      let workflow: CompiledWorkflow
      if let cached {
        workflow = cached
      } else {
        workflow = try await self.inTenant(tenant) { connection in
          try await self.definitions.compiled(tenant: tenant, name: request.workflowName, version: request.workflowVersion, on: connection)
        }
      }
      if Self.hasRunStrategy(workflow) {
        guard let result = try await self.startWithStrategy(tenant: tenant, request, workflow: workflow) else {
          refreshLatest = true
          continue
        }
        return result
      }
      let planned = try await self.planStart(tenant: tenant, request, workflow: workflow)
      switch try await self.starts.submit(planned, key: tenant).get() {
      case .created:
        let run = planned.run
        if planned.transaction.scheduledReadyWork { self.readyWorkCommitted() }
        self.metrics.runStarted(workflow: run.workflowName)
        if run.deadline != nil || run.slaDeadline != nil { self.timerWakeup.signal() }
        if let finished = planned.transaction.finishedStatus { self.metrics.runFinished(run, status: finished) }
        return (run, true)
      case .exists:
        guard let key = request.idempotencyKey,
          let existing = try await self.inTenant(tenant, { try await self.runByIdempotencyKey(tenant: tenant, key: key, on: $0) })
        else {
          continue
        }
        return (try self.checkSameWorkflow(existing, request), false)
      case .stale:
        refreshLatest = true
      }
    }
    throw MaestroError(.aborted, "workflow '\(request.workflowName)' changed while the run was being started; try again")
  }

  /// Validates the input and plans the new run's first transition (no database access). A
  /// `queued` run (its run strategy holds it back) is created without starting: no steps,
  /// timers or deadlines until it is promoted (``promoteQueued(in:)``).
  func planStart(tenant: String, _ request: StartRequest, workflow: CompiledWorkflow, queued: Bool = false) async throws -> PlannedStart {
    let input: JSONValue
    switch ParameterValidator.apply(workflow.parameters, to: request.input, path: "input") {
    case .success(let applied): input = applied
    case .failure(let issues): throw MaestroError.invalidDefinition(issues.issues, summary: "input does not match the workflow's parameters")
    }
    let now = self.now()
    let run = RunRecord(
      tenant: tenant, id: UUID(), workflowName: workflow.name, workflowVersion: workflow.version, status: .queued, input: input,
      output: nil, error: nil, idempotencyKey: request.idempotencyKey, parentRunID: nil, parentStepID: nil, startedBy: request.startedBy,
      labels: .object(request.labels.mapValues(JSONValue.string)), createdAt: now, startedAt: nil, finishedAt: nil,
      deadline: nil, slaDeadline: nil, slaMet: nil, lastEventSequence: 0, runAttempt: 1
    )
    var transaction = RunTransaction(newRun: run, workflow: workflow, now: now, logger: self.logger)
    var created: [String: JSONValue] = ["input": input, "workflow": .string(workflow.name), "version": .number(Double(workflow.version))]
    if queued {
      created["queued"] = .string("behind the active runs (run strategy \(Self.strategyName(workflow.definition.runStrategy.mode)))")
    }
    transaction.record("RUN_CREATED", payload: .object(created))
    if !queued {
      transaction.begin()
      try await transaction.advance()
    }
    return PlannedStart(transaction: transaction, latest: request.workflowVersion == 0)
  }

  /// The group committer's write: the whole batch in one `start_runs` call; if that fails,
  /// each start alone, so that one bad start cannot fail the others.
  private static func writeStarts(
    tenant: String,
    _ starts: [PlannedStart],
    api: Database,
    logger: Logger
  ) async -> [Result<StartWriteOutcome, any Error>] {
    func write(_ starts: [PlannedStart]) async throws -> [StartWriteOutcome] {
      var batch = StartBatch(tenant: tenant)
      for start in starts { batch.add(start) }
      let outcomes = try await api.client.withConnection { try await batch.execute(on: $0, logger: logger) }
      return try starts.map { start in
        guard let outcome = outcomes[start.transaction.run.id] else { throw MaestroError.internal(cause: nil) }
        return outcome
      }
    }
    do {
      return try await write(starts).map { .success($0) }
    } catch {
      guard starts.count > 1 else { return [.failure(error)] }
      logger.debug("start batch failed; writing its starts one by one", metadata: ["batch": "\(starts.count)", "error": "\(String(reflecting: error))"])
      var results: [Result<StartWriteOutcome, any Error>] = []
      for start in starts {
        do {
          results.append(.success(try await write([start])[0]))
        } catch {
          results.append(.failure(error))
        }
      }
      return results
    }
  }

  func checkSameWorkflow(_ run: RunRecord, _ request: StartRequest) throws -> RunRecord {
    guard run.workflowName == request.workflowName else {
      throw MaestroError(.alreadyExists, "idempotency key '\(request.idempotencyKey ?? "")' was already used for a run of '\(run.workflowName)'")
    }
    return run
  }

  func runByIdempotencyKey(tenant: String, key: String, on connection: PostgresConnection) async throws -> RunRecord? {
    let rows = try await connection.query(
      "SELECT \(unescaped: RunRecord.columns) FROM runs WHERE tenant = \(tenant) AND idempotency_key = \(key)",
      logger: self.logger
    )
    for try await row in rows { return try RunRecord(row: row) }
    return nil
  }
}

extension MaestroError {
  /// INVALID_ARGUMENT listing every definition issue with its path.
  static func invalidDefinition(_ issues: [DefinitionIssue], summary: String) -> MaestroError {
    let first = issues.first
    let listed = issues.prefix(20).map(\.description).joined(separator: "; ")
    return MaestroError(.invalidArgument, "\(summary): \(listed)\(issues.count > 20 ? " (and \(issues.count - 20) more)" : "")", field: first?.path)
  }
}
