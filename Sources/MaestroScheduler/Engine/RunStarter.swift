import Foundation
import Synchronization
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroCore
import MaestroKit
import MaestroProtos
import SwiftProtobuf

/// The scheduler's view of workflow-service: start a run (idempotently), read a run's status,
/// cancel a run. ``WorkflowRunStarter`` is the gRPC implementation; the seam keeps the firing
/// logic testable without sockets.
protocol RunStarter: Sendable {
  /// Starts the run of one fire. Same `idempotencyKey` → the same run.
  func start(_ request: StartRequest) async throws(StartFailure) -> StartedRun
  /// The run's status, or nil when workflow-service no longer knows it.
  func status(tenant: String, runID: String) async throws -> Maestro_Workflow_V1_RunStatus?
  /// Cancels a run (idempotent: a finished run is left alone).
  func cancel(tenant: String, runID: String, reason: String) async throws
  /// Runs the client connections until cancelled.
  func run() async throws
}

struct StartRequest: Sendable {
  var tenant: String
  var target: Maestro_Scheduler_V1_ScheduleTarget
  var scheduleID: String
  var fireTime: Date
  var idempotencyKey: String
}

struct StartedRun: Sendable {
  var runID: String
  var status: Maestro_Workflow_V1_RunStatus
}

/// Why a start failed: permanent failures (bad target, refused) are recorded as START_FAILED;
/// transient ones (workflow-service unavailable) are retried with the same idempotency key.
struct StartFailure: Error, Sendable, CustomStringConvertible {
  var permanent: Bool
  var refused: Bool = false
  var message: String
  var description: String { self.message }

  static func classify(_ error: any Error) -> StartFailure {
    if let failure = error as? StartFailure { return failure }
    guard let rpc = error as? RPCError else { return StartFailure(permanent: false, message: "\(error)") }
    let message = "\(rpc.code): \(rpc.message)"
    switch rpc.code {
    case .invalidArgument, .notFound, .alreadyExists, .permissionDenied, .unimplemented, .outOfRange:
      return StartFailure(permanent: true, message: message)
    case .failedPrecondition, .resourceExhausted:
      return StartFailure(permanent: true, refused: true, message: message)
    default:
      return StartFailure(permanent: false, message: message)
    }
  }
}

/// Calls workflow-service over gRPC as the scheduler's service account.
///
/// Runs are started in the tenant of the service account's token. A schedule of another tenant
/// is started with that tenant's credentials when ``TenantTokens`` has them, else refused.
struct WorkflowRunStarter: RunStarter {
  let client: GRPCClient<HTTP2ClientTransport.Posix>
  let tokens: TenantTokens
  let timeout: Duration

  init(target: HostPort, tokens: TenantTokens, timeout: Duration = .seconds(10)) throws {
    self.client = GRPCClient(transport: try .http2NIOPosix(target: .dns(host: target.host, port: target.port), transportSecurity: .plaintext))
    self.tokens = tokens
    self.timeout = timeout
  }

  private func metadata(_ tenant: String) async throws -> Metadata {
    ["authorization": "Bearer \(try await self.tokens.token(for: tenant))"]
  }

  private var options: CallOptions {
    var options = CallOptions.defaults
    options.timeout = self.timeout
    return options
  }

  func start(_ request: StartRequest) async throws(StartFailure) -> StartedRun {
    do {
      let workflows = Maestro_Workflow_V1_WorkflowService.Client(wrapping: self.client)
      let metadata = try await self.metadata(request.tenant)
      var labels = request.target.runLabels
      labels["maestro.schedule-id"] = request.scheduleID
      labels["maestro.fire-time"] = FireKey.rfc3339(request.fireTime)
      let input = InputTemplate.render(request.target.input, scheduleID: request.scheduleID, fireTime: request.fireTime)
      let run: Maestro_Workflow_V1_Run
      if !request.target.templateName.isEmpty {
        run = try await workflows.instantiateTemplate(
          .with {
            $0.templateName = request.target.templateName
            $0.templateVersion = request.target.templateVersion
            $0.parameters = request.target.templateParameters
            $0.mode = .startRun
            $0.input = input
            $0.idempotencyKey = request.idempotencyKey
            $0.runLabels = labels
          }, metadata: metadata, options: self.options
        ).run
      } else {
        run = try await workflows.startRun(
          .with {
            $0.workflowName = request.target.workflowName
            $0.workflowVersion = request.target.workflowVersion
            $0.input = input
            $0.idempotencyKey = request.idempotencyKey
            $0.labels = labels
          }, metadata: metadata, options: self.options
        ).run
      }
      return StartedRun(runID: run.id, status: run.status)
    } catch {
      if let rpc = error as? RPCError, rpc.code == .unauthenticated { self.tokens.invalidate(tenant: request.tenant) }
      throw StartFailure.classify(error)
    }
  }

  func status(tenant: String, runID: String) async throws -> Maestro_Workflow_V1_RunStatus? {
    let workflows = Maestro_Workflow_V1_WorkflowService.Client(wrapping: self.client)
    do {
      return try await workflows.getRun(.with { $0.runID = runID }, metadata: try await self.metadata(tenant), options: self.options).run.status
    } catch let error as RPCError where error.code == .notFound {
      return nil
    } catch let error as RPCError where error.code == .unauthenticated {
      self.tokens.invalidate(tenant: tenant)
      throw error
    }
  }

  func cancel(tenant: String, runID: String, reason: String) async throws {
    let workflows = Maestro_Workflow_V1_WorkflowService.Client(wrapping: self.client)
    do {
      _ = try await workflows.cancelRun(.with { $0.runID = runID; $0.reason = reason }, metadata: try await self.metadata(tenant), options: self.options)
    } catch let error as RPCError where error.code == .notFound || error.code == .failedPrecondition {
      return  // gone or already finished
    }
  }

  func run() async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await self.client.runConnections() }
      group.addTask { try await self.tokens.run() }
      try await group.next()
      group.cancelAll()
    }
  }
}

/// Where the scheduler's bearer tokens come from, per tenant.
///
/// - The scheduler's own service account (client-credentials grant at auth-gateway, the same
///   ``ClientCredentialsTokenSource`` metrics reporting uses) serves its own tenant (`default`
///   for the bootstrapped `scheduler` account).
/// - A static token file (`MAESTRO_SCHEDULER_TOKEN_FILE`, re-read on every renewal) replaces it
///   where tokens are issued outside Maestro.
/// - Other tenants: a service account of that tenant, its client id and secret in
///   `<credentials dir>/<tenant>.client_id` and `<tenant>.secret`.
final class TenantTokens: Sendable {
  let ownTenant: String
  private let own: any AccessTokenSource
  private let authClient: GRPCClient<HTTP2ClientTransport.Posix>?
  private let credentialsDirectory: String?
  private let perTenant: Mutex<[String: ClientCredentialsTokenSource]> = Mutex([:])

  init(ownTenant: String, own: any AccessTokenSource, authClient: GRPCClient<HTTP2ClientTransport.Posix>?, credentialsDirectory: String?) {
    self.ownTenant = ownTenant
    self.own = own
    self.authClient = authClient
    self.credentialsDirectory = credentialsDirectory
  }

  func token(for tenant: String) async throws -> String {
    if tenant == self.ownTenant { return try await self.own.token() }
    guard let directory = self.credentialsDirectory, let authClient = self.authClient,
      let clientID = FileManager.default.contents(atPath: "\(directory)/\(tenant).client_id").map({ String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) })
    else {
      throw StartFailure(permanent: true, refused: true, message: "no credentials to start runs in tenant '\(tenant)' (the scheduler's service account acts in '\(self.ownTenant)'; add \(tenant).client_id and \(tenant).secret to MAESTRO_SCHEDULER_CREDENTIALS_DIR)")
    }
    let source = self.perTenant.withLock { sources in
      if let existing = sources[tenant] { return existing }
      let created = ClientCredentialsTokenSource(client: authClient, clientID: clientID, secretFile: "\(directory)/\(tenant).secret")
      sources[tenant] = created
      return created
    }
    return try await source.token()
  }

  func invalidate(tenant: String) {
    if tenant == self.ownTenant {
      (self.own as? ClientCredentialsTokenSource)?.invalidate()
    } else {
      self.perTenant.withLock { $0[tenant]?.invalidate() }
    }
  }

  func run() async throws {
    if let authClient = self.authClient { try await authClient.runConnections() } else {
      while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
    }
  }
}

/// A bearer token read from a file, re-read on every call (so a rotated token is picked up).
struct FileTokenSource: AccessTokenSource {
  let path: String

  func token() async throws -> String {
    guard let data = FileManager.default.contents(atPath: self.path) else {
      throw RPCError(code: .unauthenticated, message: "token file \(self.path) is not readable")
    }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
