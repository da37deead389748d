/// Client addresses as the gateway stores them: IPv4 as is, IPv6 as its /64 for back-off (one
/// host usually owns the whole /64), from gRPC peers (`ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678`)
/// or HTTP remote addresses.
enum ClientAddress {
  /// The bare IP of a gRPC peer or socket address string, or nil.
  static func normalised(_ text: String) -> String? {
    var value = Substring(text)
    if value.hasPrefix("ipv4:") {
      value = value.dropFirst(5)
      if let colon = value.lastIndex(of: ":") { value = value[..<colon] }
    } else if value.hasPrefix("ipv6:") {
      value = value.dropFirst(5)
      if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
        value = value[value.index(after: value.startIndex)..<close]
      }
    } else if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
      value = value[value.index(after: value.startIndex)..<close]
    } else if value.filter({ $0 == ":" }).count == 1, let colon = value.lastIndex(of: ":") {
      value = value[..<colon]
    }
    let result = String(value)
    guard !result.isEmpty, result.utf8.allSatisfy({ $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }) else {
      return nil
    }
    return result
  }

  /// The back-off key: the address, or for IPv6 its /64 network in CIDR form.
  static func backoffKey(_ address: String) -> String {
    guard address.contains(":") else { return address }
    return address + "/64"
  }
}
