public import GRPCCore
import MaestroKit

/// The gRPC front door to the backends: registers every method of every ``ForwardedService``
/// in the catalog with a pass-through handler (bytes in, bytes out). Authentication, the
/// permission check, the session guard and rate limits already ran in the server's
/// interceptors, exactly as for the gateway's own methods.
public struct ForwardingService: RegistrableRPCService {
  let forwarder: Forwarder

  public init(forwarder: Forwarder) {
    self.forwarder = forwarder
  }

  public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    for service in self.forwarder.catalog.services {
      for method in service.methods {
        let streaming = service.streamsResponses(method)
        let backend = service.backend
        let forwarder = self.forwarder
        router.registerHandler(forMethod: method, deserializer: RawMessageCodec(), serializer: RawMessageCodec()) { request, context in
          if streaming {
            return forwarder.serveStream(request, method: method, backend: backend)
          }
          return try await forwarder.serveExchange(request, method: method, backend: backend)
        }
      }
    }
  }
}

extension Forwarder {
  /// Unary: the backend's answer is relayed exactly (initial metadata, message, trailers,
  /// status).
  func serveExchange(_ request: StreamingServerRequest<[UInt8]>, method: MethodDescriptor, backend: String) async throws -> StreamingServerResponse<[UInt8]> {
    let started = ContinuousClock.now
    do {
      let exchange = try await self.exchange(
        method: method,
        backend: backend,
        metadata: request.metadata,
        messages: request.messages,
        timeout: ForwardedMetadata.timeout(in: request.metadata)
      )
      self.report(.grpc, method: method.fullyQualifiedMethod, backend: backend, code: nil, started: started)
      return StreamingServerResponse(of: [UInt8].self, metadata: exchange.metadata) { writer in
        try await writer.write(contentsOf: exchange.messages)
        return exchange.trailers
      }
    } catch {
      self.report(.grpc, method: method.fullyQualifiedMethod, backend: backend, code: Self.code(of: error), started: started)
      throw error
    }
  }

  /// Server streaming: each message is relayed as it arrives. The gateway's response headers
  /// go out first, so the backend's initial metadata arrives in the trailers.
  func serveStream(_ request: StreamingServerRequest<[UInt8]>, method: MethodDescriptor, backend: String) -> StreamingServerResponse<[UInt8]> {
    StreamingServerResponse(of: [UInt8].self, metadata: [:]) { writer in
      let started = ContinuousClock.now
      do {
        let trailers = try await self.stream(
          method: method,
          backend: backend,
          metadata: request.metadata,
          messages: request.messages,
          timeout: ForwardedMetadata.timeout(in: request.metadata)
        ) { message in
          try await writer.write(message)
        }
        self.report(.grpc, method: method.fullyQualifiedMethod, backend: backend, code: nil, started: started)
        return trailers
      } catch {
        self.report(.grpc, method: method.fullyQualifiedMethod, backend: backend, code: Self.code(of: error), started: started)
        throw error
      }
    }
  }

  static func code(of error: any Error) -> RPCError.Code {
    if let rpc = error as? RPCError { return rpc.code }
    if let convertible = error as? any RPCErrorConvertible { return convertible.rpcErrorCode }
    return .unknown
  }
}
