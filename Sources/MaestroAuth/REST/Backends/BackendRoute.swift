import Foundation
public import GRPCCore
public import SwiftProtobuf

/// One REST resource route to a backend RPC, Google API style (`GET /v1/runs/{id}`,
/// `POST /v1/runs/{id}:cancel`). The request message is built from the path, the query and
/// the body; the response message is returned as canonical proto JSON.
public struct BackendRoute: Sendable {
  /// How the request message is built besides the path parameters.
  public enum Body: Sendable, Hashable {
    /// From query parameters (GET, DELETE).
    case query
    /// The JSON body is the whole request message.
    case whole
    /// The JSON (or YAML) body is the message field `field` (`POST /v1/workflows` sends the
    /// definition itself).
    case field(String)
    /// The body is the resource in `field` of an Update request; `update_mask` defaults to the
    /// fields sent.
    case update(String)
  }

  public var httpMethod: String
  public var path: RESTPathTemplate
  public var method: MethodDescriptor
  public var body: Body
  /// Path parameter → request field (dotted for a resource's field: `schedule.id`).
  public var pathFields: [String: String]
  /// REST-friendly names → proto field names (`workflow` → `workflow_name`).
  public var aliases: [String: String]
  /// Enum fields whose values may omit the enum's prefix (`status=RUNNING`).
  public var enumPrefixes: [String: String]
  /// Whether the body may be YAML (`Content-Type: application/yaml`).
  public var acceptsYAML: Bool
  /// Whether the response is a Server-Sent Events stream of the RPC's responses.
  public var serverSentEvents: Bool
  public var summary: String
  /// Fully qualified proto names of the request and response messages.
  public var requestType: String
  public var responseType: String
  /// Builds and serializes the request message from its JSON object form; throws
  /// ``RESTFieldError`` naming the first bad field.
  let encodeRequest: @Sendable (Data) throws -> [UInt8]
  /// Turns one serialized response message into canonical JSON.
  let decodeResponse: @Sendable ([UInt8]) throws -> Data

  public static func make<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
    _ httpMethod: String,
    _ path: String,
    _ method: MethodDescriptor,
    _ input: Input.Type,
    _ output: Output.Type,
    body: Body,
    pathFields: [String: String] = [:],
    aliases: [String: String] = [:],
    enumPrefixes: [String: String] = [:],
    acceptsYAML: Bool = false,
    serverSentEvents: Bool = false,
    summary: String
  ) -> BackendRoute {
    BackendRoute(
      httpMethod: httpMethod,
      path: RESTPathTemplate(path),
      method: method,
      body: body,
      pathFields: pathFields,
      aliases: aliases,
      enumPrefixes: enumPrefixes,
      acceptsYAML: acceptsYAML,
      serverSentEvents: serverSentEvents,
      summary: summary,
      requestType: Input.protoMessageName,
      responseType: Output.protoMessageName,
      encodeRequest: { json in
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = false
        return try RESTFieldError.locating(json) { data in try Input(jsonUTF8Data: data, options: options) }.serializedBytes()
      },
      decodeResponse: { bytes in
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = false
        return try Output(serializedBytes: bytes).jsonUTF8Data(options: options)
      }
    )
  }
}
