import Foundation
import Hummingbird
import JWTKit
import Logging
import MaestroAuth
import MaestroAuthModel
import NIOCore
import ServiceLifecycle
import Synchronization

/// A local OpenID provider for token-exchange tests: a Hummingbird server on port 0 serving a
/// discovery document and a JWKS, and an ES256 key that signs ID tokens.
struct TestIdentityProvider: Sendable {
  let issuer: String
  let key: ES256PrivateKey
  let kid: String
  let signer: JWTKeyCollection

  struct IDToken: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var email: String?
    var groups: [String]?
    var tenant: String?
    func verify(using algorithm: some JWTAlgorithm) async throws {}
  }

  /// Runs a provider for the duration of `body`.
  static func with<Result: Sendable>(_ body: @Sendable (TestIdentityProvider) async throws -> Result) async throws -> Result {
    let key = ES256PrivateKey()
    let kid = "idp-key-1"
    let parameters = key.parameters!
    let jwks = #"{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"\#(kid)","x":"\#(parameters.x)","y":"\#(parameters.y)"}]}"#
    let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let router = Router()
    let issuerBox = IssuerBox()
    router.get("/.well-known/openid-configuration") { _, _ -> Response in
      let body = #"{"issuer":"\#(issuerBox.value)","jwks_uri":"\#(issuerBox.value)/keys"}"#
      return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
    router.get("/keys") { _, _ -> Response in
      Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: jwks)))
    }
    let app = Application(
      router: router,
      configuration: .init(address: .hostname("127.0.0.1", port: 0)),
      onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
      logger: Logger(label: "test.idp")
    )
    let group = ServiceGroup(services: [app], logger: Logger(label: "test.idp"))
    return try await withThrowingTaskGroup(of: Result?.self) { tasks in
      tasks.addTask {
        try await group.run()
        return nil
      }
      var iterator = portStream.makeAsyncIterator()
      guard let port = await iterator.next() else {
        await group.triggerGracefulShutdown()
        throw CancellationError()
      }
      let issuer = "http://127.0.0.1:\(port)"
      issuerBox.set(issuer)
      let signer = JWTKeyCollection()
      await signer.add(ecdsa: key, kid: JWKIdentifier(string: kid))
      let result: Swift.Result<Result, any Error>
      do {
        result = .success(try await body(TestIdentityProvider(issuer: issuer, key: key, kid: kid, signer: signer)))
      } catch {
        result = .failure(error)
      }
      await group.triggerGracefulShutdown()
      for try await _ in tasks {}
      return try result.get()
    }
  }

  func configuration(audience: String = "maestro-test") -> OIDCProviderConfiguration {
    OIDCProviderConfiguration(
      name: "test-idp", issuer: self.issuer, audience: audience,
      claimMapping: ClaimMapping(tenantClaim: "tenant", defaultTenant: "default", groupsClaim: "groups", groupRoles: ["eng": ["workflow-author"]], defaultRoles: ["viewer"]))
  }

  func idToken(
    subject: String = "ext-123", audience: String = "maestro-test", issuer: String? = nil, expiresIn: TimeInterval = 300,
    groups: [String] = ["eng"], kid: String? = nil, signer: JWTKeyCollection? = nil
  ) async throws -> String {
    let now = Date()
    let claims = IDToken(
      iss: IssuerClaim(value: issuer ?? self.issuer), sub: SubjectClaim(value: subject), aud: AudienceClaim(value: [audience]),
      exp: ExpirationClaim(value: now.addingTimeInterval(expiresIn)), iat: IssuedAtClaim(value: now.addingTimeInterval(-10)),
      email: "\(subject)@example.com", groups: groups, tenant: nil)
    return try await (signer ?? self.signer).sign(claims, kid: JWKIdentifier(string: kid ?? self.kid))
  }
}

/// The issuer URL, known only once the server has bound its port.
final class IssuerBox: Sendable {
  private let storage = Mutex<String>("")
  var value: String { self.storage.withLock { $0 } }
  func set(_ value: String) { self.storage.withLock { $0 = value } }
}

