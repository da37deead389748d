import Foundation
import Hummingbird
import Logging
import MaestroAuthModel
public import MaestroCore
import MaestroKit
import NIOCore
import SwiftProtobuf

/// The gateway's REST API: every route maps to an `AuthService` method and is authorised with
/// the same ``AccessPolicy`` entry as that method over gRPC (fail closed: a route whose
/// method is unmapped is denied). Bodies and responses are the proto messages' canonical JSON.
public struct RESTGateway: Sendable {
  let runtime: GatewayRuntime
  let policy: AccessPolicy
  let sessionGuard: SessionGuard
  /// The front door's rate limits, applied to authenticated identity routes too.
  let limiter: RateLimiter?

  public init(runtime: GatewayRuntime, policy: AccessPolicy = .maestro, limiter: RateLimiter? = nil) {
    self.runtime = runtime
    self.policy = policy
    self.limiter = limiter
    self.sessionGuard = SessionGuard(revocations: runtime.revocations, keyRing: runtime.keyRing)
  }

  static let service = "maestro.auth.v1.AuthService"

  /// How a route's request message is built.
  enum BodyMode: Sendable {
    /// From the query string and path parameters (GET, DELETE).
    case query
    /// The JSON body is the whole request message; path parameters are merged in.
    case body
    /// The JSON body is the resource in `field`; `update_mask` defaults to the fields sent.
    case resource(String)

    var isQuery: Bool {
      if case .query = self { return true }
      return false
    }
  }

  /// Authenticates the caller of `method` and checks the policy; the call's context.
  func authorize(_ request: Request, context: GatewayRequestContext, method: String, requestID: String) async throws -> CallContext {
    try await self.authorize(request, context: context, fullMethod: "\(Self.service)/\(method)", requestID: requestID)
  }

  /// Authenticates the caller of `fullMethod` (`package.Service/Method`) and checks the policy.
  func authorize(_ request: Request, context: GatewayRequestContext, fullMethod: String, requestID: String) async throws -> CallContext {
    var call = CallContext(
      requestedTenant: request.headers[HeaderName("x-maestro-tenant")!],
      clientAddress: context.remoteAddress,
      userAgent: request.headers[.userAgent],
      requestID: requestID
    )
    if self.policy.requirement(for: fullMethod) == .public { return call }
    if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
      let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
      let principal = try await self.runtime.verifier.verify(token)
      try self.sessionGuard.check(principal: principal, token: token)
      call.principal = principal
      call.tokenExpiresAt = SessionGuard.expiry(of: token)
    }
    switch self.policy.decide(method: fullMethod, principal: call.principal) {
    case .allow: return call
    case .denyUnauthenticated: throw MaestroError.unauthenticated("missing bearer token")
    case .denyUnmapped: throw MaestroError.permissionDenied("\(fullMethod) is not permitted")
    case .denyMissingPermission(let permission): throw MaestroError.permissionDenied("\(fullMethod) needs permission \(permission)")
    }
  }

  /// Registers one RPC route.
  func route<Input: SwiftProtobuf.Message & Sendable, Output: SwiftProtobuf.Message & Sendable>(
    _ router: Router<GatewayRequestContext>,
    _ httpMethod: HTTPRequest.Method,
    _ path: RouterPath,
    rpc method: String,
    body mode: BodyMode,
    pathFields: [String: String] = [:],
    _ handler: @escaping @Sendable (AuthAPI) -> (Input, CallContext) async throws -> Output
  ) {
    let api = self.runtime.api
    router.on(path, method: httpMethod) { request, context -> Response in
      let requestID = Self.requestID(request)
      var admitted: (RateLimiter, String)?
      defer { if case let (limiter, tenant)? = admitted { limiter.release(tenant: tenant) } }
      do {
        let call = try await self.authorize(request, context: context, method: method, requestID: requestID)
        if let limiter = self.limiter, let principal = call.principal {
          if let refusal = limiter.admit(principal) {
            return RESTResponses.envelope(refusal.error, status: .tooManyRequests, requestID: requestID, headers: [.retryAfter: String(refusal.retryAfterSeconds)])
          }
          admitted = (limiter, principal.tenant)
        }
        var request = request
        let input: Input = try await Self.decode(&request, context: context, mode: mode, pathFields: pathFields)
        // The request id (and caller) in the task-local context, so every log line carries it.
        let output = try await RequestContext.$current.withValue(RequestContext(requestID: requestID, principal: call.principal)) {
          try await handler(api)(input, call)
        }
        return try RESTResponses.message(output, requestID: requestID)
      } catch {
        return RESTResponses.error(error, requestID: requestID, logger: context.logger)
      }
    }
  }

  static func requestID(_ request: Request) -> String {
    if let supplied = request.headers[HeaderName("x-request-id")!], RequestContext.isValidRequestID(supplied) { return supplied }
    return RequestContext.makeRequestID()
  }

  /// Builds the request message from the query, path parameters and body.
  static func decode<Input: SwiftProtobuf.Message>(
    _ request: inout Request, context: GatewayRequestContext, mode: BodyMode, pathFields: [String: String]
  ) async throws -> Input {
    var object: [String: Any] = [:]
    var options = JSONDecodingOptions()
    switch mode {
    case .query:
      options.ignoreUnknownFields = true
      for (key, value) in request.uri.queryParameters {
        let name = String(key)
        let decoded = String(value).removingPercentEncoding ?? String(value)
        let json: Any
        switch decoded {
        case "true": json = true
        case "false": json = false
        default: json = decoded
        }
        if let existing = object[name] {
          object[name] = ((existing as? [Any]) ?? [existing]) + [json]
        } else {
          object[name] = json
        }
      }
    case .body, .resource:
      let buffer = try await request.body.collect(upTo: context.maxUploadSize)
      if buffer.readableBytes > 0 {
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
          throw MaestroError(.invalidArgument, "request body must be a JSON object")
        }
        if case .resource(let field) = mode {
          object[field] = parsed
          // Only updates (PATCH) carry a mask; creating a resource sends it alone.
          if request.method == .patch {
            let mask = request.uri.queryParameters["update_mask"].map(String.init) ?? parsed.keys.sorted().map(Self.snakeCase).joined(separator: ",")
            object["update_mask"] = mask.split(separator: ",").map { Self.lowerCamel(String($0)) }.joined(separator: ",")
          }
        } else {
          object = parsed
        }
      }
    }
    for (parameter, field) in pathFields {
      guard let value = context.parameters.get(parameter) else { continue }
      let decoded = value.removingPercentEncoding ?? value
      if case .resource(let resourceField) = mode, field.hasPrefix(resourceField + ".") {
        var resource = object[resourceField] as? [String: Any] ?? [:]
        resource[String(field.dropFirst(resourceField.count + 1))] = decoded
        object[resourceField] = resource
      } else {
        object[field] = decoded
      }
    }
    return try Self.message(from: object, options: options, wrapSingles: mode.isQuery)
  }

  /// Decodes `object` as `Input`. A query parameter given once is a plain string, but the field
  /// may be repeated (`?types=A`): when decoding fails, each single value is retried as a list.
  static func message<Input: SwiftProtobuf.Message>(from object: [String: Any], options: JSONDecodingOptions, wrapSingles: Bool) throws -> Input {
    do {
      return try Input(jsonUTF8Bytes: Array(try JSONSerialization.data(withJSONObject: object)), options: options)
    } catch let error as SwiftProtobuf.JSONDecodingError {
      guard wrapSingles else { throw error }
      var wrapped = object
      for (key, value) in object where value is String {
        wrapped[key] = [value]
        if let message = try? Input(jsonUTF8Bytes: Array(try JSONSerialization.data(withJSONObject: wrapped)), options: options) {
          return message
        }
        wrapped[key] = value
      }
      throw error
    }
  }

  static func snakeCase(_ name: String) -> String {
    var out = ""
    for character in name {
      if character.isUppercase {
        out += "_" + character.lowercased()
      } else {
        out.append(character)
      }
    }
    return out
  }

  /// FieldMask JSON form is lowerCamelCase paths.
  static func lowerCamel(_ path: String) -> String {
    let parts = path.trimmingCharacters(in: .whitespaces).split(separator: "_")
    guard let first = parts.first else { return "" }
    return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
  }
}
