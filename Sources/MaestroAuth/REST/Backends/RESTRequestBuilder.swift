import Foundation
import Hummingbird
import MaestroCore
import NIOCore
import Yams

/// Builds the JSON object form of a backend RPC's request message from a REST request:
/// path parameters, then the query (GET/DELETE) or the body (JSON, or YAML where the route
/// allows it), with the route's REST-friendly aliases resolved.
struct RESTRequestBuilder {
  let route: BackendRoute
  let parameters: [String: String]
  private let aliasesBox = AliasesBox()

  init(route: BackendRoute, parameters: [String: String]) {
    self.route = route
    self.parameters = parameters
  }

  /// The aliases seen while building one request (the builder lives for one request).
  private final class AliasesBox {
    var names: Set<String> = []
  }

  static let yamlTypes: Set<String> = ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"]

  /// The serialized request message.
  func build(_ request: inout Request, maxBodyBytes: Int) async throws -> [UInt8] {
    var object: [String: Any]
    switch self.route.body {
    case .query:
      object = try self.queryObject(request.uri.queryParameters)
    case .whole, .field, .update:
      let parsed = try await self.bodyObject(&request, maxBodyBytes: maxBodyBytes)
      switch self.route.body {
      case .field(let field):
        object = [field: parsed]
      case .update(let field):
        let mask = request.uri.queryParameters["update_mask"].map(String.init)
          ?? parsed.keys.sorted().map(RESTGateway.snakeCase).joined(separator: ",")
        object = [field: parsed, "update_mask": mask.split(separator: ",").map { RESTGateway.lowerCamel(String($0)) }.joined(separator: ",")]
      default:
        object = self.resolvingAliases(parsed)
      }
    }
    for (parameter, field) in self.route.pathFields {
      guard let value = self.parameters[parameter] else { continue }
      let parts = field.split(separator: ".", maxSplits: 1).map(String.init)
      if parts.count == 2 {
        var resource = object[parts[0]] as? [String: Any] ?? [:]
        resource[parts[1]] = value
        object[parts[0]] = resource
      } else {
        object[field] = value
      }
    }
    do {
      return try self.encode(object, wrappingSingles: self.route.body == .query)
    } catch var error as RESTFieldError {
      // Report the field by the name the caller used (`workflow`, not `workflow_name`).
      let head = error.path.prefix { $0 != "." && $0 != "[" }
      if let alias = self.route.aliases.first(where: { $0.value == head })?.key, self.sentAliases.contains(alias) {
        error.path = alias + error.path.dropFirst(head.count)
      }
      throw error
    }
  }

  /// The aliases the caller used (in the body or the query).
  var sentAliases: Set<String> {
    get { self.aliasesBox.names }
    nonmutating set { self.aliasesBox.names = newValue }
  }

  /// Encodes `object`; a query parameter given once is a string, but its field may be
  /// repeated: when that field fails, it is retried as a one-element list.
  func encode(_ object: [String: Any], wrappingSingles: Bool) throws -> [UInt8] {
    var object = object
    // The error of a field before it was wrapped: the one to report if wrapping does not help.
    var unwrappedErrors: [String: RESTFieldError] = [:]
    while true {
      do {
        return try self.route.encodeRequest(try JSONSerialization.data(withJSONObject: object))
      } catch let error as RESTFieldError {
        let head = String(error.path.prefix { $0 != "[" && $0 != "." })
        if let original = unwrappedErrors[head] { throw original }
        guard wrappingSingles, let value = object[error.path] as? String else { throw error }
        unwrappedErrors[error.path] = error
        object[error.path] = [value]
      }
    }
  }

  func queryObject(_ query: Parameters) throws -> [String: Any] {
    var object: [String: Any] = [:]
    for (key, value) in query {
      let raw = String(key)
      let name = self.route.aliases[raw] ?? raw
      if name != raw { self.sentAliases.insert(raw) }
      var decoded = String(value)
      if let prefix = self.route.enumPrefixes[name] ?? self.route.enumPrefixes[RESTGateway.snakeCase(name)] {
        decoded = decoded.uppercased()
        if !decoded.hasPrefix(prefix) { decoded = prefix + decoded }
      }
      let json: Any = decoded == "true" ? true as Any : decoded == "false" ? false as Any : decoded as Any
      if let existing = object[name] {
        object[name] = ((existing as? [Any]) ?? [existing]) + [json]
      } else {
        object[name] = json
      }
    }
    return object
  }

  func resolvingAliases(_ object: [String: Any]) -> [String: Any] {
    guard !self.route.aliases.isEmpty else { return object }
    var result: [String: Any] = [:]
    for (key, value) in object {
      if let target = self.route.aliases[key], object[target] == nil {
        result[target] = value
        self.sentAliases.insert(key)
      } else {
        result[key] = value
      }
    }
    return result
  }

  func bodyObject(_ request: inout Request, maxBodyBytes: Int) async throws -> [String: Any] {
    if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
      throw HTTPError(.contentTooLarge)
    }
    let buffer = try await request.body.collect(upTo: maxBodyBytes)
    guard buffer.readableBytes > 0 else { return [:] }
    let contentType = (request.headers[.contentType] ?? "application/json").split(separator: ";").first.map {
      $0.trimmingCharacters(in: .whitespaces).lowercased()
    } ?? "application/json"
    if Self.yamlTypes.contains(contentType) {
      guard self.route.acceptsYAML else {
        throw MaestroError(.invalidArgument, "this route accepts JSON only (Content-Type: application/json)")
      }
      return try Self.yamlObject(String(buffer: buffer))
    }
    guard contentType == "application/json" || contentType.hasSuffix("+json") else {
      throw MaestroError(.invalidArgument, "unsupported Content-Type \(contentType): send application/json\(self.route.acceptsYAML ? " or application/yaml" : "")")
    }
    let parsed: Any
    do {
      parsed = try JSONSerialization.jsonObject(with: Data(buffer: buffer))
    } catch {
      throw MaestroError(.invalidArgument, "request body is not valid JSON")
    }
    guard let object = parsed as? [String: Any] else {
      throw MaestroError(.invalidArgument, "request body must be a JSON object")
    }
    return object
  }

  /// A YAML document as the equivalent JSON object. Durations may use the short form
  /// (`30s`, `5m`, `1h30m`), as in the definition files.
  static func yamlObject(_ text: String) throws -> [String: Any] {
    let node: Any?
    do {
      node = try Yams.load(yaml: text)
    } catch {
      throw MaestroError(.invalidArgument, "request body is not valid YAML: \(error)")
    }
    guard let object = node.map({ Self.jsonCompatible($0, key: nil) }) as? [String: Any] else {
      throw MaestroError(.invalidArgument, "request body must be a YAML mapping")
    }
    return object
  }

  static let durationKeys: Set<String> = [
    "run_timeout", "runTimeout", "sla", "default_step_timeout", "defaultStepTimeout", "timeout",
    "initial_backoff", "initialBackoff", "max_backoff", "maxBackoff", "duration", "heartbeat_timeout",
    "heartbeatTimeout", "schedule_to_start_timeout", "scheduleToStartTimeout", "wait_timeout", "waitTimeout",
  ]

  static func jsonCompatible(_ node: Any, key: String?) -> Any {
    switch node {
    case let dictionary as [String: Any]:
      return dictionary.reduce(into: [String: Any]()) { $0[$1.key] = self.jsonCompatible($1.value, key: $1.key) }
    case let dictionary as [AnyHashable: Any]:
      return dictionary.reduce(into: [String: Any]()) { $0["\($1.key)"] = self.jsonCompatible($1.value, key: "\($1.key)") }
    case let array as [Any]:
      return array.map { self.jsonCompatible($0, key: nil) }
    case let string as String:
      if let key, self.durationKeys.contains(key), !string.contains("${"), let duration = try? DurationParser.parse(string)
      {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : String(format: "%.3fs", Double(milliseconds) / 1000)
      }
      return string
    case let date as Date:
      return ISO8601DateFormatter().string(from: date)
    case is Bool, is Int, is Double, is NSNull:
      return node
    default:
      return "\(node)"
    }
  }
}
