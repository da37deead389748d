public import AsyncHTTPClient
public import Foundation
import NIOCore

/// Fetches an OIDC discovery document or JWKS: the seam between the OIDC verifier and HTTP.
public protocol OIDCDocumentFetcher: Sendable {
  func fetch(_ url: String) async throws -> Data
}

/// Fetches with async-http-client: GET, 5 s timeout, at most 1 MiB, 200 only.
public struct HTTPOIDCDocumentFetcher: OIDCDocumentFetcher {
  let httpClient: HTTPClient

  public init(httpClient: HTTPClient = .shared) { self.httpClient = httpClient }

  public func fetch(_ url: String) async throws -> Data {
    var request = HTTPClientRequest(url: url)
    request.headers.add(name: "accept", value: "application/json")
    let response = try await self.httpClient.execute(request, timeout: .seconds(5))
    guard response.status == .ok else { throw OIDCFetchError(url: url, status: Int(response.status.code)) }
    let body = try await response.body.collect(upTo: 1 << 20)
    return Data(buffer: body)
  }
}

struct OIDCFetchError: Error, CustomStringConvertible {
  var url: String
  var status: Int
  var description: String { "GET \(self.url) answered HTTP \(self.status)" }
}
