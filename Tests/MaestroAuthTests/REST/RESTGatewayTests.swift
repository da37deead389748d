import Foundation
import Hummingbird
import HummingbirdTesting
import MaestroAuth
import MaestroCore
import MaestroKit
import NIOCore
import Testing

@Suite("REST port: token endpoint, JWKS, identity routes, errors (Hummingbird router tests, real Postgres)")
struct RESTGatewayTests {
  static func app(_ gateway: GatewayFixture) -> some ApplicationProtocol {
    let health = HealthStatusStore()
    return Application(router: GatewayServer.makeRouter(health: health, runtime: gateway.runtime))
  }

  static func json(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any]) ?? [:]
  }

  static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

  static func bearer(_ token: String, json: Bool = false) -> HTTPFields {
    var headers: HTTPFields = [.authorization: "Bearer \(token)"]
    if json { headers[.contentType] = "application/json" }
    return headers
  }

  static func token(_ client: some TestClientProtocol, username: String = "admin", password: String = GatewayFixture.adminPassword) async throws -> String {
    try await client.execute(
      uri: "/v1/auth/token", method: .post, headers: Self.form,
      body: ByteBuffer(string: "grant_type=password&username=\(username)&password=\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
    ) { response in
      #expect(response.status == .ok)
      return Self.json(response.body)["access_token"] as? String ?? ""
    }
  }

  @Test("password grant (form), client credentials (Basic), JSON body, OAuth error format")
  func tokenEndpoint() async throws {
    try await GatewayFixture.with { gateway in
      try await Self.app(gateway).test(.router) { client in
        try await client.execute(
          uri: "/v1/auth/token", method: .post, headers: Self.form,
          body: ByteBuffer(string: "grant_type=password&username=admin&password=correct+horse+battery+staple")
        ) { response in
          #expect(response.status == .ok)
          #expect(response.headers[.cacheControl] == "no-store")
          let body = Self.json(response.body)
          #expect(body["token_type"] as? String == "Bearer")
          #expect(body["expires_in"] as? Int == 900)
          #expect((body["access_token"] as? String)?.split(separator: ".").count == 3)
          #expect((body["refresh_token"] as? String)?.hasPrefix("rt.") == true)
        }
        try await client.execute(
          uri: "/v1/auth/token", method: .post, headers: Self.form, body: ByteBuffer(string: "grant_type=password&username=admin&password=nope-nope-nope")
        ) { response in
          #expect(response.status == .badRequest)
          let body = Self.json(response.body)
          #expect(body["error"] as? String == "invalid_grant")
          #expect(body["error_description"] as? String == "invalid username or password")
        }
        let secret = try String(contentsOfFile: gateway.directory + "/secrets/scheduler.secret", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var basic = Self.form
        basic[.authorization] = "Basic " + Data("scheduler:\(secret)".utf8).base64EncodedString()
        try await client.execute(uri: "/v1/auth/token", method: .post, headers: basic, body: ByteBuffer(string: "grant_type=client_credentials")) { response in
          #expect(response.status == .ok)
          #expect(Self.json(response.body)["refresh_token"] == nil)
        }
        basic[.authorization] = "Basic " + Data("scheduler:wrong".utf8).base64EncodedString()
        try await client.execute(uri: "/v1/auth/token", method: .post, headers: basic, body: ByteBuffer(string: "grant_type=client_credentials")) { response in
          #expect(response.status == .unauthorized)
          #expect(Self.json(response.body)["error"] as? String == "invalid_client")
          #expect(response.headers[.wwwAuthenticate] != nil)
        }
        try await client.execute(
          uri: "/v1/auth/token", method: .post, headers: [.contentType: "application/json"],
          body: ByteBuffer(string: #"{"grant_type":"password","username":"admin","password":"correct horse battery staple","tenant":"default"}"#)
        ) { response in
          #expect(response.status == .ok)
        }
        try await client.execute(uri: "/v1/auth/token", method: .post, headers: Self.form, body: ByteBuffer(string: "grant_type=magic")) { response in
          #expect(response.status == .badRequest)
          #expect(Self.json(response.body)["error"] as? String == "unsupported_grant_type")
        }
      }
    }
  }

  @Test("JWKS and discovery documents")
  func wellKnown() async throws {
    try await GatewayFixture.with { gateway in
      try await Self.app(gateway).test(.router) { client in
        try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
          #expect(response.status == .ok)
          let keys = Self.json(response.body)["keys"] as? [[String: Any]] ?? []
          #expect(keys.count == 2)
          #expect(keys.allSatisfy { $0["kty"] as? String == "EC" && $0["alg"] as? String == "ES256" && $0["kid"] != nil && $0["d"] == nil })
        }
        try await client.execute(uri: "/.well-known/openid-configuration", method: .get) { response in
          let body = Self.json(response.body)
          #expect(body["issuer"] as? String == "maestro")
          #expect((body["jwks_uri"] as? String)?.hasSuffix("/.well-known/jwks.json") == true)
          #expect((body["grant_types_supported"] as? [String])?.contains("urn:ietf:params:oauth:grant-type:token-exchange") == true)
        }
      }
    }
  }

  @Test("whoami, create and page users, RBAC on routes, errors as {error: {code, message}}")
  func identityRoutes() async throws {
    try await GatewayFixture.with { gateway in
      try await Self.app(gateway).test(.router) { client in
        let admin = try await Self.token(client)
        try await client.execute(uri: "/v1/auth/me", method: .get, headers: Self.bearer(admin)) { response in
          #expect(response.status == .ok)
          let body = Self.json(response.body)
          #expect(body["tenant"] as? String == "default")
          #expect(body["roles"] as? [String] == ["ROLE_ADMIN"])
          #expect((body["permissions"] as? [String])?.contains("auth.keys.rotate") == true)
        }
        try await client.execute(uri: "/v1/auth/me", method: .get) { response in
          #expect(response.status == .unauthorized)
          let error = Self.json(response.body)["error"] as? [String: Any]
          #expect(error?["code"] as? String == "UNAUTHENTICATED")
        }
        for name in ["vera", "walt", "xena"] {
          try await client.execute(
            uri: "/v1/users", method: .post, headers: Self.bearer(admin, json: true),
            body: ByteBuffer(string: #"{"user":{"username":"\#(name)"},"password":"password-of-\#(name)","roles":["ROLE_VIEWER"]}"#)
          ) { response in
            #expect(response.status == .ok)
            #expect((Self.json(response.body)["user"] as? [String: Any])?["username"] as? String == name)
          }
        }
        try await client.execute(uri: "/v1/users", method: .post, headers: Self.bearer(admin, json: true), body: ByteBuffer(string: #"{"user":{"username":"vera"}}"#)) { response in
          #expect(response.status == .conflict)
          #expect((Self.json(response.body)["error"] as? [String: Any])?["code"] as? String == "ALREADY_EXISTS")
        }
        try await client.execute(uri: "/v1/users", method: .post, headers: Self.bearer(admin, json: true), body: ByteBuffer(string: "not json")) { response in
          #expect(response.status == .badRequest)
          #expect((Self.json(response.body)["error"] as? [String: Any])?["code"] as? String == "INVALID_ARGUMENT")
        }
        var names: [String] = []
        var token = ""
        repeat {
          token = try await client.execute(uri: "/v1/users?page_size=2" + (token.isEmpty ? "" : "&page_token=\(token)"), method: .get, headers: Self.bearer(admin)) { response in
            #expect(response.status == .ok)
            let body = Self.json(response.body)
            names += (body["users"] as? [[String: Any]] ?? []).compactMap { $0["username"] as? String }
            return body["nextPageToken"] as? String ?? ""
          }
        } while !token.isEmpty
        #expect(names == ["admin", "vera", "walt", "xena"])

        let viewer = try await Self.token(client, username: "vera", password: "password-of-vera")
        try await client.execute(uri: "/v1/users", method: .post, headers: Self.bearer(viewer, json: true), body: ByteBuffer(string: #"{"user":{"username":"mallory"}}"#)) { response in
          #expect(response.status == .forbidden)
          let error = Self.json(response.body)["error"] as? [String: Any]
          #expect(error?["code"] as? String == "PERMISSION_DENIED")
          #expect((error?["message"] as? String)?.contains("auth.users.write") == true)
        }
        try await client.execute(uri: "/v1/users", method: .get, headers: Self.bearer(admin).merging(["x-maestro-tenant": "nowhere"])) { response in
          #expect(response.status == .ok)
          #expect((Self.json(response.body)["users"] as? [Any] ?? []).isEmpty)
        }
      }
    }
  }

  @Test("PATCH a user by field mask, revoke a session over REST: its token is refused at once")
  func patchAndRevoke() async throws {
    try await GatewayFixture.with { gateway in
      try await Self.app(gateway).test(.router) { client in
        let admin = try await Self.token(client)
        let second = try await Self.token(client)
        let me = try await client.execute(uri: "/v1/auth/me", method: .get, headers: Self.bearer(second)) { Self.json($0.body) }
        let sid = try #require(me["sessionId"] as? String)
        let subject = try #require(me["subjectId"] as? String)
        try await client.execute(uri: "/v1/users/\(subject)", method: .patch, headers: Self.bearer(admin, json: true), body: ByteBuffer(string: #"{"displayName":"The Admin"}"#)) { response in
          #expect(response.status == .ok)
          #expect((Self.json(response.body)["user"] as? [String: Any])?["displayName"] as? String == "The Admin")
        }
        try await client.execute(uri: "/v1/sessions/\(sid)", method: .delete, headers: Self.bearer(admin)) { response in
          #expect(response.status == .ok)
        }
        try await client.execute(uri: "/v1/auth/me", method: .get, headers: Self.bearer(second)) { response in
          #expect(response.status == .unauthorized)
        }
        try await client.execute(uri: "/v1/sessions/00000000-0000-0000-0000-000000000000", method: .delete, headers: Self.bearer(admin)) { response in
          #expect(response.status == .notFound)
        }
        try await client.execute(uri: "/v1/audit-events?types=AUDIT_EVENT_TYPE_SESSION_REVOKED", method: .get, headers: Self.bearer(admin)) { response in
          #expect(response.status == .ok)
          #expect((Self.json(response.body)["events"] as? [Any])?.count == 1)
        }
      }
    }
  }
}

extension HTTPFields {
  func merging(_ extra: [String: String]) -> HTTPFields {
    var fields = self
    for (name, value) in extra { fields[HTTPFields.Element.Name(name)!] = value }
    return fields
  }
}
