import Foundation
import Hummingbird
import Logging
import MaestroCore
import NIOCore
import SwiftProtobuf

/// JSON responses of the REST port: protobuf messages in canonical proto3 JSON, errors as
/// `{"error": {"code": "INVALID_ARGUMENT", "message": "…", "field": "…"}}` with the HTTP status
/// of ``MaestroError/Code/httpStatus`` (the one mapping table).
enum RESTResponses {
  static func json(_ data: some Sequence<UInt8>, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: Array(data))))
  }

  static func message(_ message: some SwiftProtobuf.Message, requestID: String) throws -> Response {
    var options = JSONEncodingOptions()
    options.alwaysPrintEnumsAsInts = false
    var headers = HTTPFields()
    headers[HeaderName("x-request-id")!] = requestID
    let bytes: [UInt8] = try message.jsonUTF8Bytes(options: options)
    return self.json(bytes, headers: headers)
  }

  static func object(_ object: [String: Any], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    return self.json(data, status: status, headers: headers)
  }

  /// The error response for anything a handler threw; internals go to the log only.
  static func error(_ thrown: any Error, requestID: String, logger: Logger) -> Response {
    let error: MaestroError
    switch thrown {
    case let maestro as MaestroError: error = maestro
    case let oauth as OAuthError: error = oauth.maestroError
    case let decoding as SwiftProtobuf.JSONDecodingError:
      error = MaestroError(.invalidArgument, "request body is not valid JSON for this method: \(decoding)")
    case let http as HTTPError where http.status == .contentTooLarge:
      error = MaestroError(.invalidArgument, "request body is too large")
    default: error = MaestroError.internal(cause: thrown)
    }
    var body: [String: Any] = ["code": error.code.rawValue, "message": error.message]
    if error.code == .internal || error.code == .unknown {
      logger.error("REST request failed", metadata: ["request_id": "\(requestID)", "error": "\(thrown)"])
      body["message"] = "internal error (request id \(requestID))"
    }
    if let field = error.field { body["field"] = field }
    var headers = HTTPFields()
    headers[HeaderName("x-request-id")!] = requestID
    return self.object(["error": body], status: HTTPResponse.Status(code: error.code.httpStatus), headers: headers)
  }
}
