import Foundation
public import GRPCNIOTransportHTTP2
public import MaestroKit

/// Where one backend's replicas listen. Calls are spread over every address (round robin).
///
/// Forms: `host:port` (one address), `10.0.0.1:9101,10.0.0.2:9101` (a list of IP addresses),
/// or `dns:name:port` (every A/AAAA record of `name`, re-resolved when connections drop: the
/// Kubernetes headless-service form).
public struct BackendAddresses: Sendable, Hashable, CustomStringConvertible {
  public enum Form: Sendable, Hashable {
    case addresses([HostPort])
    case dns(HostPort)
  }

  public struct HostPort: Sendable, Hashable {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
      self.host = host
      self.port = port
    }
  }

  public var form: Form

  public init(form: Form) {
    self.form = form
  }

  /// Parses a setting value; the error names `setting`.
  public static func parse(_ value: String, setting: String) throws(ConfigurationError) -> BackendAddresses {
    let trimmed = value.trimmingCharacters(in: .whitespaces)
    if trimmed.hasPrefix("dns:") {
      let rest = String(trimmed.dropFirst(4).drop { $0 == "/" })
      return BackendAddresses(form: .dns(try self.hostPort(rest, setting: setting)))
    }
    let parts = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard !parts.isEmpty else { throw ConfigurationError(setting: setting, message: "expected host:port[,host:port…] or dns:name:port") }
    return BackendAddresses(form: .addresses(try parts.map { part throws(ConfigurationError) in try self.hostPort(part, setting: setting) }))
  }

  static func hostPort(_ text: String, setting: String) throws(ConfigurationError) -> HostPort {
    var host: Substring
    let portText: Substring
    if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
      host = text[text.index(after: text.startIndex)..<close]
      portText = text[close...].dropFirst(2)
    } else if let colon = text.lastIndex(of: ":") {
      host = text[..<colon]
      portText = text[text.index(after: colon)...]
    } else {
      throw ConfigurationError(setting: setting, message: "'\(text)' has no port (expected host:port)")
    }
    host = host.isEmpty ? "127.0.0.1" : host
    guard let port = Int(portText), (1...65_535).contains(port) else {
      throw ConfigurationError(setting: setting, message: "'\(text)' has no valid port (1–65535)")
    }
    return HostPort(host: String(host), port: port)
  }

  /// The resolvable target for the gRPC client.
  public var target: any ResolvableTarget {
    switch self.form {
    case .dns(let address):
      return ResolvableTargets.DNS(host: address.host, port: address.port)
    case .addresses(let list):
      if list.count == 1, !list[0].host.contains(":"), !Self.isIPv4Literal(list[0].host) {
        return ResolvableTargets.DNS(host: list[0].host, port: list[0].port)
      }
      if list.allSatisfy({ $0.host.contains(":") }) {
        return ResolvableTargets.IPv6(addresses: list.map { GRPCNIOTransportCore.SocketAddress.IPv6(host: $0.host, port: $0.port) })
      }
      return ResolvableTargets.IPv4(addresses: list.map { GRPCNIOTransportCore.SocketAddress.IPv4(host: $0.host, port: $0.port) })
    }
  }

  static func isIPv4Literal(_ host: String) -> Bool {
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
  }

  public var description: String {
    switch self.form {
    case .dns(let address): "dns:\(address.host):\(address.port)"
    case .addresses(let list): list.map { "\($0.host):\($0.port)" }.joined(separator: ",")
    }
  }
}
