import Foundation
import GRPCCore
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
  ///
  /// One envelope for every route: `{"error": {"code": "INVALID_ARGUMENT", "message": "…",
  /// "details": […]}}` (plus `field` when one field is at fault, also given as a
  /// `google.rpc.BadRequest` detail), with the HTTP status of the gRPC code. Errors relayed
  /// from a backend keep its code and message.
  static func error(_ thrown: any Error, requestID: String, logger: Logger, headers extra: HTTPFields = [:]) -> Response {
    let (error, status) = self.resolve(thrown, requestID: requestID, logger: logger)
    return self.envelope(error, status: status, requestID: requestID, headers: extra)
  }

  /// The error a caller sees for `thrown`, and the HTTP status when it is not the code's.
  static func resolve(_ thrown: any Error, requestID: String, logger: Logger) -> (MaestroError, HTTPResponse.Status?) {
    var error: MaestroError
    var status: HTTPResponse.Status?
    switch thrown {
    case let maestro as MaestroError: error = maestro
    case let oauth as OAuthError: error = oauth.maestroError
    case let field as RESTFieldError: error = field.maestroError
    case let decoding as SwiftProtobuf.JSONDecodingError:
      error = MaestroError(.invalidArgument, "request body is not valid JSON for this method: \(RESTFieldError.describe(decoding))")
    case let http as HTTPError where http.status == .contentTooLarge:
      error = MaestroError(.resourceExhausted, "request body is too large")
      status = .contentTooLarge
    case let rpc as RPCError:
      let field = rpc.metadata[stringValues: "maestro-field"].first { _ in true }
      error = MaestroError(MaestroError.Code(rpc.code), rpc.message, field: field)
      if rpc.code == .unknown || rpc.code == .internalError {
        // A backend already hid its internals; keep its message (it names its request id).
        return (error, nil)
      }
    default: error = MaestroError.internal(cause: thrown)
    }
    if error.code == .internal || error.code == .unknown {
      logger.error("REST request failed", metadata: ["request_id": "\(requestID)", "error": "\(thrown)"])
      error.message = "internal error (request id \(requestID))"
    }
    return (error, status)
  }

  /// The error envelope with `status` (default: the code's HTTP status).
  static func envelope(_ error: MaestroError, status: HTTPResponse.Status?, requestID: String, headers extra: HTTPFields = [:]) -> Response {
    var headers = extra
    headers[HeaderName("x-request-id")!] = requestID
    return self.object(self.envelopeObject(error), status: status ?? HTTPResponse.Status(code: error.code.httpStatus), headers: headers)
  }

  /// `{"error": {…}}` for `error`.
  static func envelopeObject(_ error: MaestroError) -> [String: Any] {
    var body: [String: Any] = ["code": error.code.rawValue, "message": error.message]
    var details: [[String: Any]] = []
    if let field = error.field {
      body["field"] = field
      details.append([
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [["field": field, "description": error.message]],
      ])
    }
    body["details"] = details
    return ["error": body]
  }
}
