/// A Google-API-style path template: literal segments, `{param}` segments, and a custom verb
/// after the last segment (`/v1/runs/{id}:cancel`, `/v1/workflows:validate`).
public struct RESTPathTemplate: Sendable, Hashable, CustomStringConvertible {
  public enum Segment: Sendable, Hashable {
    case literal(String)
    case parameter(String)
  }

  public var segments: [Segment]
  /// The custom verb (`cancel`), without the colon.
  public var verb: String?
  public let description: String

  public init(_ template: String) {
    self.description = template
    var body = Substring(template.drop { $0 == "/" })
    if let colon = body.lastIndex(of: ":"), !body[colon...].contains("/"), !body[colon...].contains("}") {
      self.verb = String(body[body.index(after: colon)...])
      body = body[..<colon]
    } else {
      self.verb = nil
    }
    self.segments = body.split(separator: "/").map { part in
      part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
    }
  }

  /// The parameter names, in order.
  public var parameters: [String] {
    self.segments.compactMap { if case .parameter(let name) = $0 { name } else { nil } }
  }

  /// Matches a request path (no query); the parameters (percent-decoded) when it matches.
  public func match(_ path: Substring) -> [String: String]? {
    var rest = path.drop { $0 == "/" }
    if let verb = self.verb {
      guard rest.hasSuffix(":" + verb) else { return nil }
      rest = rest.dropLast(verb.count + 1)
    } else if let last = rest.split(separator: "/").last, last.contains(":") {
      // A custom verb this route does not have.
      return nil
    }
    let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == self.segments.count else { return nil }
    var parameters: [String: String] = [:]
    for (segment, part) in zip(self.segments, parts) {
      switch segment {
      case .literal(let literal):
        guard part == literal else { return nil }
      case .parameter(let name):
        guard !part.isEmpty, let decoded = String(part).removingPercentEncodingIfValid else { return nil }
        parameters[name] = decoded
      }
    }
    return parameters
  }

  /// How many literal segments the template has (more specific templates win).
  var specificity: Int {
    self.segments.count { if case .literal = $0 { true } else { false } }
  }

  /// The OpenAPI form: the same, with the verb kept literally.
  public var openAPIPath: String { self.description }
}

extension String {
  var removingPercentEncodingIfValid: String? {
    guard self.contains("%") else { return self }
    var bytes: [UInt8] = []
    var iterator = self.utf8.makeIterator()
    while let byte = iterator.next() {
      if byte == UInt8(ascii: "%") {
        guard let high = iterator.next(), let low = iterator.next(),
          let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
        else { return nil }
        bytes.append(value)
      } else {
        bytes.append(byte)
      }
    }
    return String(validating: bytes, as: UTF8.self)
  }
}
