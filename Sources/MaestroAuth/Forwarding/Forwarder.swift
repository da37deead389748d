public import GRPCCore
import MaestroAuthModel
public import MaestroCore
import MaestroKit

/// Forwards one call to its backend, for both front doors: the gRPC port forwards protobuf
/// bytes as received; the REST port encodes the request from JSON first.
///
/// Before forwarding: the caller's `x-maestro-tenant` is checked (only `admin` may name another
/// tenant; such calls are audited), the request id is set, and the caller's deadline becomes
/// the backend call's timeout. Metadata is filtered both ways by ``ForwardedMetadata``.
public struct Forwarder: Sendable {
  let catalog: BackendCatalog
  let pool: BackendPool
  let reporter: any GatewayOutcomeReporter
  let audit: (@Sendable (Principal, String, String) async -> Void)?

  public init(
    catalog: BackendCatalog,
    pool: BackendPool,
    reporter: any GatewayOutcomeReporter = DiscardingOutcomeReporter(),
    audit: (@Sendable (_ principal: Principal, _ tenant: String, _ method: String) async -> Void)? = nil
  ) {
    self.catalog = catalog
    self.pool = pool
    self.reporter = reporter
    self.audit = audit
  }

  /// A unary (or client-streaming) exchange, buffered: the backend's initial metadata,
  /// response messages and trailers.
  public struct Exchange: Sendable {
    public var metadata: Metadata
    public var messages: [[UInt8]]
    public var trailers: Metadata
  }

  /// The metadata sent to the backend: the caller's, filtered, with the request id.
  func outboundMetadata(_ inbound: Metadata, method: String) async throws -> Metadata {
    var metadata = ForwardedMetadata.filter(inbound)
    if let requestID = RequestContext.current?.requestID {
      metadata.replaceOrAddString(requestID, forKey: RequestContext.requestIDKey)
    }
    if let principal = RequestContext.current?.principal {
      let requested = metadata[stringValues: TenantScope.headerName].first { _ in true }
      let scope = try TenantScope.resolve(principal: principal, requested: requested)
      if scope.isCrossTenant { await self.audit?(principal, scope.tenant, method) }
    }
    return metadata
  }

  static func options(timeout: Duration?) -> CallOptions {
    var options = CallOptions.defaults
    options.timeout = timeout
    // Fail fast while a backend is unreachable rather than queueing until the deadline.
    options.waitForReady = false
    return options
  }

  /// Forwards one call and collects the whole response.
  public func exchange(
    method: MethodDescriptor,
    backend: String,
    metadata inbound: Metadata,
    messages: RPCAsyncSequence<[UInt8], any Error>,
    timeout: Duration?
  ) async throws -> Exchange {
    try await self.relay(method: method, backend: backend, metadata: inbound, messages: messages, timeout: timeout) { contents in
      var exchange = Exchange(metadata: ForwardedMetadata.filter(contents.metadata), messages: [], trailers: [:])
      for try await part in contents.bodyParts {
        switch part {
        case .message(let message): exchange.messages.append(message)
        case .trailingMetadata(let trailers): exchange.trailers = ForwardedMetadata.filter(trailers)
        }
      }
      return exchange
    }
  }

  /// Forwards one call whose responses stream: `onMessage` sees each as it arrives; returns
  /// the backend's metadata (initial, then trailing), filtered.
  public func stream(
    method: MethodDescriptor,
    backend: String,
    metadata inbound: Metadata,
    messages: RPCAsyncSequence<[UInt8], any Error>,
    timeout: Duration?,
    onMessage: @escaping @Sendable ([UInt8]) async throws -> Void
  ) async throws -> Metadata {
    try await self.relay(method: method, backend: backend, metadata: inbound, messages: messages, timeout: timeout) { contents in
      var result = ForwardedMetadata.filter(contents.metadata)
      for try await part in contents.bodyParts {
        switch part {
        case .message(let message): try await onMessage(message)
        case .trailingMetadata(let trailers): result.add(contentsOf: ForwardedMetadata.filter(trailers))
        }
      }
      return result
    }
  }

  /// The one forwarding path: outbound metadata, the backend's client, in-flight tracking and
  /// error mapping around a raw-bytes bidirectional call; `handle` reads the accepted response.
  private func relay<Result: Sendable>(
    method: MethodDescriptor,
    backend: String,
    metadata inbound: Metadata,
    messages: RPCAsyncSequence<[UInt8], any Error>,
    timeout: Duration?,
    handle: @escaping @Sendable (StreamingClientResponse<[UInt8]>.Contents) async throws -> Result
  ) async throws -> Result {
    let metadata = try await self.outboundMetadata(inbound, method: method.fullyQualifiedMethod)
    let client = try self.pool.client(for: backend)
    // A caller that goes away (or a gateway that shuts down) cancels the backend call too, so a
    // forwarded long poll never outlives its caller.
    return try await withTaskCancelledOnRPCCancellation {
      try await self.pool.tracking {
      try await Self.mapErrors {
        try await client.bidirectionalStreaming(
          request: StreamingClientRequest(of: [UInt8].self, metadata: metadata) { writer in
            for try await message in messages { try await writer.write(message) }
          },
          descriptor: method,
          serializer: RawMessageCodec(),
          deserializer: RawMessageCodec(),
          options: Self.options(timeout: timeout)
        ) { response in
          try await handle(try response.accepted.get())
        }
      }
      }
    }
  }

  /// Backend errors keep their code, message and (filtered) metadata; anything else (a
  /// transport failure) is UNAVAILABLE.
  static func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
      return try await body()
    } catch let error as RPCError {
      if error.code == .unknown, error.cause is CancellationError || Task.isCancelled {
        // The caller went away or its deadline passed: not a backend failure.
        throw RPCError(code: .cancelled, message: "the call was cancelled")
      }
      var metadata = ForwardedMetadata.filter(error.metadata)
      if let requestID = RequestContext.current?.requestID {
        // Errors carry the request id too, so a failed call can be found in the logs.
        metadata.replaceOrAddString(requestID, forKey: RequestContext.requestIDKey)
      }
      throw RPCError(code: error.code, message: error.message, metadata: metadata, cause: error.cause)
    } catch let error as MaestroError {
      throw error
    } catch is CancellationError {
      throw RPCError(code: .cancelled, message: "the call was cancelled")
    } catch {
      throw RPCError(code: .unavailable, message: "backend unavailable", cause: error)
    }
  }

  /// Reports a finished call to the outcome hook.
  func report(_ transport: GatewayRequestOutcome.Transport, method: String, backend: String, code: RPCError.Code?, started: ContinuousClock.Instant) {
    self.reporter.report(GatewayRequestOutcome(
      transport: transport,
      method: method,
      backend: backend,
      tenant: RequestContext.current?.principal?.tenant,
      code: code,
      duration: ContinuousClock.now - started,
      requestID: RequestContext.current?.requestID ?? ""
    ))
  }
}
