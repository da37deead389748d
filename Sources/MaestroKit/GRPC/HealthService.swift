public import GRPCCore
public import MaestroProtos

/// `grpc.health.v1.Health`, backed by a ``HealthStatusStore``.
public struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  public let store: HealthStatusStore

  public init(store: HealthStatusStore) {
    self.store = store
  }

  public func check(
    request: Grpc_Health_V1_HealthCheckRequest,
    context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthCheckResponse {
    guard let status = self.store.status(of: request.service) else {
      throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
    }
    return .with { $0.status = Self.wire(status) }
  }

  public func watch(
    request: Grpc_Health_V1_HealthCheckRequest,
    response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    for await status in self.store.watch(request.service) {
      try await response.write(.with { $0.status = status.map(Self.wire) ?? .serviceUnknown })
    }
  }

  private static func wire(_ status: HealthStatusStore.Status) -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
    switch status {
    case .serving: .serving
    case .notServing: .notServing
    }
  }
}
