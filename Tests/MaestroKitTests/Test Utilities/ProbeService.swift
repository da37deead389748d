import GRPCCore
import GRPCProtobuf
import MaestroCore
import MaestroKit
import SwiftProtobuf

/// A one-method test service, `maestro.test.v1.Probe/Call`, whose behaviour is chosen by the
/// request string: `whoami` answers with the request id and principal, `invalid` throws a bad
/// input error, `boom` throws an unexpected error carrying a secret.
struct ProbeService: RegistrableRPCService {
  static let method = MethodDescriptor(fullyQualifiedService: "maestro.test.v1.Probe", method: "Call")

  struct Unexpected: Error, CustomStringConvertible {
    var description: String { "connection string postgres://admin:s3cret@db" }
  }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerHandler(
      forMethod: Self.method,
      deserializer: ProtobufDeserializer<Google_Protobuf_StringValue>(),
      serializer: ProtobufSerializer<Google_Protobuf_StringValue>()
    ) { request, context in
      let message = try await ServerRequest(stream: request).message
      switch message.value {
      case "invalid":
        throw MaestroError.invalidArgument(field: "value", "must not be 'invalid'")
      case "boom":
        throw Unexpected()
      default:
        let context = RequestContext.current
        let answer = "\(context?.requestID ?? "-")|\(context?.principal?.subject ?? "-")|\(context?.principal?.tenant ?? "-")"
        return StreamingServerResponse(single: ServerResponse(message: Google_Protobuf_StringValue(answer)))
      }
    }
  }
}

extension GRPCClient {
  /// Calls the probe service.
  func probe(_ value: String, metadata: Metadata = [:]) async throws -> (answer: String, metadata: Metadata) {
    try await self.unary(
      request: ClientRequest(message: Google_Protobuf_StringValue(value), metadata: metadata),
      descriptor: ProbeService.method,
      serializer: ProtobufSerializer<Google_Protobuf_StringValue>(),
      deserializer: ProtobufDeserializer<Google_Protobuf_StringValue>(),
      options: .defaults
    ) { response in
      (try response.message.value, response.metadata)
    }
  }
}
