public import Foundation
public import MaestroCore

/// `GET /openapi.json`: an OpenAPI 3.0 document generated from the route tables themselves
/// (``BackendRoute/maestro``, ``RESTGateway/routeTable`` and the fixed routes), so a route
/// cannot exist without being documented.
public enum OpenAPIDocument {
  /// Routes that are neither backend nor identity RPC routes.
  public static let fixedRoutes: [(method: String, path: String, summary: String)] = [
    ("GET", "/healthz", "Liveness of the gateway's REST listener ({\"status\":\"SERVING\"}; 503 while draining)"),
    ("GET", "/openapi.json", "This document"),
  ]

  /// Every (method, path) the REST port serves.
  public static func allRoutes(backends: [BackendRoute] = BackendRoute.maestro) -> [(method: String, path: String)] {
    self.fixedRoutes.map { ($0.method, $0.path) }
      + RESTGateway.routeTable.map { ($0.method, $0.path) }
      + backends.map { ($0.httpMethod, $0.path.openAPIPath) }
  }

  /// The document as JSON bytes.
  public static func json(backends: [BackendRoute] = BackendRoute.maestro, serverURL: String, policy: AccessPolicy = .maestro) -> Data {
    let document = self.document(backends: backends, serverURL: serverURL, policy: policy)
    return (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
  }

  static func document(backends: [BackendRoute], serverURL: String, policy: AccessPolicy) -> [String: Any] {
    var paths: [String: [String: Any]] = [:]
    var schemas: [String: Any] = [
      "Error": [
        "type": "object",
        "required": ["error"],
        "properties": [
          "error": [
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": [
              "code": ["type": "string", "description": "gRPC status code name, e.g. INVALID_ARGUMENT", "enum": MaestroError.Code.allCases.map(\.rawValue)],
              "message": ["type": "string"],
              "field": ["type": "string", "description": "The request field at fault (proto JSON path), when one is"],
              "details": ["type": "array", "items": ["type": "object", "additionalProperties": true]],
            ],
          ] as [String: Any],
        ],
      ] as [String: Any],
    ]
    func schemaRef(_ protoName: String) -> [String: Any] {
      let key = protoName
      if schemas[key] == nil {
        schemas[key] = [
          "type": "object",
          "additionalProperties": true,
          "description": "The protobuf message `\(protoName)` in canonical proto3 JSON (see protos/).",
        ]
      }
      return ["$ref": "#/components/schemas/\(key)"]
    }
    let errorResponse: [String: Any] = [
      "description": "Error envelope; the HTTP status follows the standard gRPC→HTTP mapping",
      "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]],
    ]
    func operation(
      id: String, summary: String, tag: String, method: String, path: String, isPublic: Bool,
      request: [String: Any]?, response: [String: Any], queryParameters: [String] = []
    ) -> [String: Any] {
      var op: [String: Any] = ["operationId": id, "summary": summary, "tags": [tag]]
      var parameters: [[String: Any]] = RESTPathTemplate(path).parameters.map {
        ["name": $0, "in": "path", "required": true, "schema": ["type": "string"]]
      }
      parameters += queryParameters.map { ["name": $0, "in": "query", "required": false, "schema": ["type": "string"]] }
      if !parameters.isEmpty { op["parameters"] = parameters }
      if let request { op["requestBody"] = request }
      op["responses"] = ["200": response, "default": errorResponse]
      op["security"] = isPublic ? [] : [["bearerAuth": [String]()]]
      return op
    }
    func add(_ method: String, _ path: String, _ op: [String: Any]) {
      paths[path, default: [:]][method.lowercased()] = op
    }
    func operationID(_ method: String, _ path: String) -> String {
      let cleaned = path.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
      return method.lowercased() + cleaned
    }

    for route in self.fixedRoutes {
      let content: [String: Any] = route.path == "/openapi.json"
        ? ["application/json": ["schema": ["type": "object", "additionalProperties": true]]]
        : ["application/json": ["schema": ["type": "object", "properties": ["status": ["type": "string"]]]]]
      add(route.method, route.path, operation(
        id: operationID(route.method, route.path), summary: route.summary, tag: "gateway", method: route.method, path: route.path,
        isPublic: true, request: nil, response: ["description": "OK", "content": content]
      ))
    }
    for route in RESTGateway.routeTable {
      let fullMethod = "\(RESTGateway.service)/\(route.rpc)"
      let isPublic = policy.requirement(for: fullMethod) == .public
      let response = ["description": "OK", "content": ["application/json": ["schema": schemaRef("maestro.auth.v1.\(route.rpc)Response")]]] as [String: Any]
      var request: [String: Any]?
      if route.method == "POST" || route.method == "PATCH" {
        var content: [String: Any] = ["application/json": ["schema": schemaRef("maestro.auth.v1.\(route.rpc)Request")]]
        if route.path == "/v1/auth/token" {
          content["application/x-www-form-urlencoded"] = ["schema": ["type": "object", "additionalProperties": ["type": "string"]]]
        }
        request = ["required": false, "content": content]
      }
      add(route.method, route.path, operation(
        id: operationID(route.method, route.path), summary: "AuthService.\(route.rpc)", tag: "auth", method: route.method, path: route.path,
        isPublic: isPublic, request: request, response: response,
        queryParameters: route.method == "GET" && route.rpc.hasPrefix("List") ? ["page_size", "page_token"] : []
      ))
    }
    for route in backends {
      let service = String(route.method.service.fullyQualifiedService.split(separator: ".").last ?? "")
      let response: [String: Any]
      if route.serverSentEvents {
        response = ["description": "Server-Sent Events; each `data:` is a \(route.responseType) in canonical JSON", "content": ["text/event-stream": ["schema": ["type": "string"]]]]
      } else {
        response = ["description": "OK", "content": ["application/json": ["schema": schemaRef(route.responseType)]]]
      }
      var request: [String: Any]?
      switch route.body {
      case .query: request = nil
      case .whole, .field, .update:
        var content: [String: Any] = ["application/json": ["schema": schemaRef(route.requestType)]]
        if route.acceptsYAML { content["application/yaml"] = ["schema": schemaRef(route.requestType)] }
        request = ["required": false, "content": content]
      }
      var query: [String] = []
      if case .query = route.body {
        query = route.requestType.hasSuffix("ListRunsRequest") ? ["status", "workflow", "page_size", "page_token"]
          : route.requestType.contains(".List") ? ["page_size", "page_token"] : []
        if route.serverSentEvents { query = ["from_sequence"] }
      }
      add(route.httpMethod, route.path.openAPIPath, operation(
        id: "\(service)_\(route.method.method)" + (route.httpMethod == "GET" ? "" : "_\(route.httpMethod.lowercased())"),
        summary: route.summary, tag: service, method: route.httpMethod, path: route.path.openAPIPath,
        isPublic: false, request: request, response: response, queryParameters: query
      ))
    }
    return [
      "openapi": "3.0.3",
      "info": [
        "title": "Maestro API",
        "version": "v1",
        "description": "REST (JSON) access to every Maestro service through auth-gateway. Bodies are the proto messages' canonical JSON (protos/); errors use one envelope.",
      ],
      "servers": [["url": serverURL]],
      "paths": paths,
      "components": [
        "schemas": schemas,
        "securitySchemes": ["bearerAuth": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT"]],
      ] as [String: Any],
    ]
  }
}
