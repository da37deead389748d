import AsyncHTTPClient
import Foundation
import Logging
import MaestroWorkflowModel
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Which hosts `http` steps may call: the guard against server-side request forgery.
///
/// Entries are `host`, `host:port`, `*.domain` (any subdomain), IPv6 literals as `::1` or
/// `[::1]:8080`, or `*` (any host, an explicit opt-in). Hosts compare case-insensitively, as
/// written in the URL: a name on the list is trusted to resolve where its owner says.
public struct HostAllowlist: Sendable, Hashable {
  public var entries: [String]

  /// The local default: loopback only.
  public static let loopback = HostAllowlist(entries: ["localhost", "127.0.0.1", "::1"])

  public init(entries: [String]) {
    self.entries = entries.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
  }

  public func allows(host rawHost: String, port: Int) -> Bool {
    let host = rawHost.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    for entry in self.entries {
      if entry == "*" { return true }
      let (pattern, requiredPort) = Self.split(entry)
      if let requiredPort, requiredPort != port { continue }
      if pattern.hasPrefix("*.") {
        if host.hasSuffix(String(pattern.dropFirst(1))) { return true }
      } else if host == pattern {
        return true
      }
    }
    return false
  }

  /// "host:port" → (host, port); "[v6]:port" → (v6, port); anything else is a bare host.
  private static func split(_ entry: String) -> (String, Int?) {
    if entry.hasPrefix("["), let close = entry.firstIndex(of: "]") {
      let host = String(entry[entry.index(after: entry.startIndex)..<close])
      let rest = entry[entry.index(after: close)...]
      return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
    }
    let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
    if parts.count == 2, let port = Int(parts[1]) { return (String(parts[0]), port) }
    return (entry, nil)
  }
}

/// Settings of the `http` step type.
public struct HTTPStepSettings: Sendable {
  public var allowlist: HostAllowlist = .loopback
  /// Secrets are files `<directory>/<tenant>/<name>` (e.g. a mounted Kubernetes secret); nil =
  /// no secrets.
  public var secretsDirectory: String?
  /// The request timeout when the step sets none.
  public var defaultTimeout: Duration = .seconds(10)
  /// Responses larger than this fail the attempt.
  public var maxResponseBytes: Int = 1 << 20

  public init() {}
}

/// Runs `http` steps: checks the target against the allowlist, adds secret headers (resolved
/// now, never stored), sends the request without following redirects, and turns the response
/// into the output `{"status", "headers", "body"}` (body parsed when it is JSON).
///
/// Outcomes: a status outside `expected_status` (default: any 2xx) fails the attempt — 408,
/// 429 and 5xx as platform errors (retried per policy), other statuses as user errors; a
/// timeout is a TIMEOUT error; a connection failure a platform error; a blocked target, a
/// missing secret or a bad URL a non-retryable user error.
struct HTTPStepExecutor: Sendable {
  let client: HTTPClient
  let settings: HTTPStepSettings
  /// Requests never outlive the step's lease (else the lease would expire mid-call and the
  /// attempt run twice).
  let maxTimeout: Duration

  func execute(_ step: WorkflowEngine.ClaimedStep) async -> BuiltinExecutor.Result {
    let input = step.input
    guard case .string(let urlText) = input["url"] ?? .null, let url = URL(string: urlText), let scheme = url.scheme?.lowercased(),
      scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
    else {
      return .failed(StepFailure("http: the url is not an absolute http(s) URL", errorClass: .user, type: "http", nonRetryable: true))
    }
    let port = url.port ?? (scheme == "https" ? 443 : 80)
    guard self.settings.allowlist.allows(host: host, port: port) else {
      return .failed(StepFailure(
        "http: \(host):\(port) is not on the outbound allowlist (MAESTRO_HTTP_ALLOWLIST)", errorClass: .user, type: "http_blocked", nonRetryable: true
      ))
    }
    let method = input["method"].flatMap { if case .string(let text) = $0 { text } else { nil } } ?? "GET"
    var request = HTTPClientRequest(url: urlText)
    request.method = HTTPMethod(rawValue: method)
    if case .object(let headers) = input["headers"] ?? .null {
      for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
        if case .string(let text) = value { request.headers.replaceOrAdd(name: name, value: text) }
      }
    }
    if case .object(let secrets) = input["secret_headers"] ?? .null {
      for (name, value) in secrets.sorted(by: { $0.key < $1.key }) {
        guard case .string(let secretName) = value, let secret = self.secret(secretName, tenant: step.tenant) else {
          return .failed(StepFailure("http: secret '\(value.interpolated)' is not defined for this tenant", errorClass: .user, type: "http_secret", nonRetryable: true))
        }
        request.headers.replaceOrAdd(name: name, value: secret)
      }
    }
    if let body = input["body"], method != "GET", method != "HEAD" {
      request.body = .bytes(ByteBuffer(string: body.jsonText))
      if !request.headers.contains(name: "content-type") { request.headers.add(name: "content-type", value: "application/json") }
    }
    var timeout = self.settings.defaultTimeout
    if case .number(let milliseconds) = input["timeout_ms"] ?? .null, milliseconds > 0 { timeout = .milliseconds(Int64(milliseconds)) }
    timeout = min(timeout, self.maxTimeout)

    let response: HTTPClientResponse
    let bytes: ByteBuffer
    do {
      response = try await self.client.execute(request, timeout: .milliseconds(Int64(timeout.seconds * 1000)))
      bytes = try await response.body.collect(upTo: self.settings.maxResponseBytes)
    } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
      return .failed(StepFailure("http: \(method) \(host):\(port) timed out after \(timeout)", errorClass: .timeout, type: "http_timeout"))
    } catch is NIOTooManyBytesError {
      return .failed(StepFailure("http: the response is larger than \(self.settings.maxResponseBytes) bytes", errorClass: .platform, type: "http_response_too_large", nonRetryable: true))
    } catch {
      return .failed(StepFailure("http: \(method) \(host):\(port) failed: \(error)", errorClass: .platform, type: "http_connection"))
    }
    let status = Int(response.status.code)
    var headers: [String: JSONValue] = [:]
    for name in Set(response.headers.map { $0.name.lowercased() }) {
      headers[name] = .string(response.headers[name].joined(separator: ", "))
    }
    let text = String(buffer: bytes)
    let contentType = response.headers.first(name: "content-type")?.lowercased() ?? ""
    let body: JSONValue = contentType.contains("json") ? ((try? JSONValue(jsonText: text)) ?? .string(text)) : .string(text)
    let output: JSONValue = ["status": .number(Double(status)), "headers": .object(headers), "body": body]
    var expected: [Int] = []
    if case .array(let values) = input["expected_status"] ?? .null {
      for case .number(let value) in values { expected.append(Int(value)) }
    }
    let accepted = expected.isEmpty ? (200..<300).contains(status) : expected.contains(status)
    if accepted { return .completed(output: output) }
    let retryable = status == 408 || status == 429 || status >= 500
    return .failed(StepFailure(
      "http: \(method) \(host):\(port) answered \(status)\(expected.isEmpty ? "" : " (expected \(expected.map(String.init).joined(separator: ", ")))")",
      errorClass: retryable ? .platform : .user, type: "http_status"
    ))
  }

  private func secret(_ name: String, tenant: String) -> String? {
    guard let directory = self.settings.secretsDirectory, HTTPStepSpec.isSecretName(name),
      tenant.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9._-]*/) != nil,
      let data = FileManager.default.contents(atPath: "\(directory)/\(tenant)/\(name)")
    else { return nil }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
  }
}

/// The engine's executor: `http` needs the network; every other type is a pure built-in.
struct EngineStepExecutor: StepExecutor {
  let http: HTTPStepExecutor

  func execute(_ step: WorkflowEngine.ClaimedStep, now: Date) async -> BuiltinExecutor.Result {
    if step.stepType == StepType.http.rawValue { return await self.http.execute(step) }
    return BuiltinExecutor.execute(type: StepType(rawValue: step.stepType) ?? .fail, input: step.input, now: now)
  }
}

/// Owns the outbound HTTP client: shuts it down when the service stops.
struct HTTPClientService: Service {
  let client: HTTPClient

  /// A client for `http` steps: no redirects (a redirect could leave the allowlist), no
  /// cookies, bounded connect time.
  static func makeClient() -> HTTPClient {
    var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5)))
    configuration.httpVersion = .automatic
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }

  func run() async throws {
    try? await gracefulShutdown()
    try await self.client.shutdown()
  }
}
