public import GRPCCore

/// What the gateway knows about one finished request, for reporting (issue 6 sends these to
/// metrics-service as request outcomes).
public struct GatewayRequestOutcome: Sendable {
  public enum Transport: String, Sendable { case grpc, rest }

  public var transport: Transport
  /// `package.Service/Method` of the backend RPC.
  public var method: String
  /// The backend process (`workflow-service`, …).
  public var backend: String
  /// The caller's tenant, when authenticated.
  public var tenant: String?
  /// The final status: `nil` is OK.
  public var code: RPCError.Code?
  public var duration: Duration
  public var requestID: String

  public init(transport: Transport, method: String, backend: String, tenant: String?, code: RPCError.Code?, duration: Duration, requestID: String) {
    self.transport = transport
    self.method = method
    self.backend = backend
    self.tenant = tenant
    self.code = code
    self.duration = duration
    self.requestID = requestID
  }
}

/// The hook where a per-request outcome reporter plugs in. Called once per forwarded request,
/// after it finished, on the request's task: implementations must not block (queue and batch).
public protocol GatewayOutcomeReporter: Sendable {
  func report(_ outcome: GatewayRequestOutcome)
}

/// Reports nothing (the default until metrics-service ingests gateway outcomes).
public struct DiscardingOutcomeReporter: GatewayOutcomeReporter {
  public init() {}
  public func report(_ outcome: GatewayRequestOutcome) {}
}
