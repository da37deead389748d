public import GRPCCore

/// Which metadata crosses the gateway. Pseudo headers (`:path`, `:status`, …), hop-by-hop
/// headers (RFC 9110 §7.6.1 and `te`), and what the transports set themselves (content type,
/// encodings, `grpc-timeout`, `grpc-status`, user agent) never do; everything else does, in
/// both directions: `authorization` (every backend verifies the token itself), `traceparent`,
/// `tracestate`, `x-maestro-tenant`, application metadata, and the backend's response metadata.
public enum ForwardedMetadata {
  /// Lower-case keys that are never forwarded.
  public static let dropped: Set<String> = [
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host",
    "proxy-authenticate", "proxy-authorization", "trailer",
    "content-type", "content-length", "user-agent",
    "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "grpc-status", "grpc-message",
    "grpc-status-details-bin",
  ]

  /// `metadata` without pseudo, hop-by-hop and transport-owned entries.
  public static func filter(_ metadata: Metadata) -> Metadata {
    var result = Metadata()
    for (key, value) in metadata {
      let lower = key.lowercased()
      if lower.hasPrefix(":") || Self.dropped.contains(lower) { continue }
      switch value {
      case .string(let string): result.addString(string, forKey: lower)
      case .binary(let bytes): result.addBinary(bytes, forKey: lower)
      }
    }
    return result
  }

  /// The caller's deadline from `grpc-timeout` (`<1–8 digits><H|M|S|m|u|n>`), if valid.
  public static func timeout(in metadata: Metadata) -> Duration? {
    guard let value = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }) else { return nil }
    return self.parseTimeout(value)
  }

  static func parseTimeout(_ value: String) -> Duration? {
    guard let unit = value.last, value.count >= 2, value.count <= 9, let amount = Int64(value.dropLast()), amount >= 0 else {
      return nil
    }
    switch unit {
    case "H": return .seconds(amount * 3600)
    case "M": return .seconds(amount * 60)
    case "S": return .seconds(amount)
    case "m": return .milliseconds(amount)
    case "u": return .microseconds(amount)
    case "n": return .nanoseconds(amount)
    default: return nil
    }
  }
}
