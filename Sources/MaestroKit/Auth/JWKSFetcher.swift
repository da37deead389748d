public import AsyncHTTPClient
import Foundation
import NIOCore

/// Fetches a JWKS document. The seam between ``TokenVerifier`` and the network or disk.
public protocol JWKSFetcher: Sendable {
  /// The JWKS JSON.
  func fetchJWKS() async throws -> String
}

/// Reads a JWKS from a file.
public struct FileJWKSFetcher: JWKSFetcher {
  public var path: String

  public init(path: String) { self.path = path }

  public func fetchJWKS() async throws -> String {
    try String(contentsOfFile: self.path, encoding: .utf8)
  }
}

/// Fetches a JWKS over HTTP(S) with async-http-client; at most 1 MiB, 5 s timeout.
public struct HTTPJWKSFetcher: JWKSFetcher {
  public var url: String
  public var httpClient: HTTPClient

  public init(url: String, httpClient: HTTPClient = .shared) {
    self.url = url
    self.httpClient = httpClient
  }

  public func fetchJWKS() async throws -> String {
    var request = HTTPClientRequest(url: self.url)
    request.headers.add(name: "accept", value: "application/json")
    let response = try await self.httpClient.execute(request, timeout: .seconds(5))
    guard response.status == .ok else {
      throw JWKSFetchError(url: self.url, status: Int(response.status.code))
    }
    let body = try await response.body.collect(upTo: 1 << 20)
    return String(buffer: body)
  }
}

/// The JWKS endpoint answered with a non-200 status.
public struct JWKSFetchError: Error, Sendable, CustomStringConvertible {
  public var url: String
  public var status: Int
  public var description: String { "JWKS fetch from \(self.url) answered HTTP \(self.status)" }
}

extension JWKSSource {
  /// The fetcher for this source.
  public func makeFetcher() -> any JWKSFetcher {
    switch self {
    case .url(let url): HTTPJWKSFetcher(url: url)
    case .file(let path): FileJWKSFetcher(path: path)
    }
  }
}
