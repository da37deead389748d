import Foundation
import Hummingbird
import MaestroCore
import MaestroProtos
import NIOCore

extension RESTGateway {
  /// `POST /v1/auth/token` (OAuth 2.0, form-encoded or JSON, client credentials also as HTTP
  /// Basic), `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`.
  func addTokenRoutes(to router: Router<GatewayRequestContext>) {
    let api = self.runtime.api
    let runtime = self.runtime
    router.post("/v1/auth/token") { request, context -> Response in
      let requestID = Self.requestID(request)
      var request = request
      do {
        let token = try await Self.tokenRequest(&request, context: context)
        let call = CallContext(clientAddress: context.remoteAddress, userAgent: request.headers[.userAgent], requestID: requestID)
        let response = try await api.token(token, call: call)
        var body: [String: Any] = ["access_token": response.accessToken, "token_type": response.tokenType, "expires_in": response.expiresIn]
        if !response.refreshToken.isEmpty { body["refresh_token"] = response.refreshToken }
        if !response.issuedTokenType.isEmpty { body["issued_token_type"] = response.issuedTokenType }
        return RESTResponses.object(body, headers: Self.noStore)
      } catch let error as OAuthError {
        var headers = Self.noStore
        if let retry = error.retryAfter { headers[.retryAfter] = String(retry) }
        if error.code == .invalidClient { headers[.wwwAuthenticate] = #"Basic realm="maestro""# }
        return RESTResponses.object(["error": error.code.rawValue, "error_description": error.description], status: .init(code: error.httpStatus), headers: headers)
      } catch {
        return RESTResponses.error(error, requestID: requestID, logger: context.logger)
      }
    }
    router.get("/.well-known/jwks.json") { _, _ -> Response in
      var headers = HTTPFields()
      headers[.cacheControl] = "public, max-age=60"
      return RESTResponses.json(Array(try await runtime.keyRing.fetchJWKS().utf8), headers: headers)
    }
    router.get("/.well-known/openid-configuration") { _, _ -> Response in
      let base = runtime.configuration.publicURL
      return RESTResponses.object([
        "issuer": runtime.configuration.issuer,
        "jwks_uri": "\(base)/.well-known/jwks.json",
        "token_endpoint": "\(base)/v1/auth/token",
        "revocation_endpoint": "\(base)/v1/auth/revoke",
        "userinfo_endpoint": "\(base)/v1/auth/me",
        "grant_types_supported": ["password", "client_credentials", "refresh_token", AuthAPI.tokenExchangeGrant],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["token"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "tenant", "roles", "principal_type"],
      ])
    }
  }

  static var noStore: HTTPFields {
    var headers = HTTPFields()
    headers[.cacheControl] = "no-store"
    headers[HeaderName("pragma")!] = "no-cache"
    return headers
  }

  /// The token request from a form or JSON body, plus HTTP Basic client credentials.
  static func tokenRequest(_ request: inout Request, context: GatewayRequestContext) async throws -> Maestro_Auth_V1_TokenRequest {
    let buffer = try await request.body.collect(upTo: context.maxUploadSize)
    let contentType = request.headers[.contentType]?.lowercased() ?? ""
    var fields: [String: String] = [:]
    if contentType.hasPrefix("application/json") {
      guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
        throw OAuthError(.invalidRequest, "body must be a JSON object")
      }
      for (key, value) in object {
        guard let text = value as? String else { throw OAuthError(.invalidRequest, "\(key) must be a string") }
        fields[key] = text
      }
    } else if contentType.hasPrefix("application/x-www-form-urlencoded") || contentType.isEmpty {
      fields = try Self.formFields(String(buffer: buffer))
    } else {
      throw OAuthError(.invalidRequest, "content type must be application/x-www-form-urlencoded or application/json")
    }
    if let header = request.headers[.authorization], header.lowercased().hasPrefix("basic ") {
      guard let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
        let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
      else { throw OAuthError(.invalidClient, "malformed HTTP Basic credentials") }
      fields["client_id"] = String(text[..<colon]).removingPercentEncoding ?? String(text[..<colon])
      fields["client_secret"] = String(text[text.index(after: colon)...]).removingPercentEncoding ?? String(text[text.index(after: colon)...])
    }
    var token = Maestro_Auth_V1_TokenRequest()
    token.grantType = fields["grant_type"] ?? ""
    token.tenant = fields["tenant"] ?? ""
    token.username = fields["username"] ?? ""
    token.password = fields["password"] ?? ""
    token.clientID = fields["client_id"] ?? ""
    token.clientSecret = fields["client_secret"] ?? ""
    token.refreshToken = fields["refresh_token"] ?? ""
    token.subjectToken = fields["subject_token"] ?? ""
    token.subjectTokenType = fields["subject_token_type"] ?? ""
    token.requestedTokenType = fields["requested_token_type"] ?? ""
    token.audience = fields["audience"] ?? ""
    token.scope = fields["scope"] ?? ""
    return token
  }

  /// Parses `application/x-www-form-urlencoded`; a repeated parameter is an error (RFC 6749 §3.2).
  static func formFields(_ body: String) throws -> [String: String] {
    var fields: [String: String] = [:]
    for pair in body.split(separator: "&") where !pair.isEmpty {
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let decode = { (text: Substring) in String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
      let key = decode(parts[0])
      guard fields[key] == nil else { throw OAuthError(.invalidRequest, "parameter \(key) is repeated") }
      fields[key] = parts.count > 1 ? decode(parts[1]) : ""
    }
    return fields
  }
}
