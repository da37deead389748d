import Foundation

/// The `http` step's rules shared by validation, planning and execution.
public enum HTTPStepSpec {
  public static let methods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]

  /// An absolute http(s) URL with a host.
  public static func isHTTPURL(_ text: String) -> Bool {
    guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else { return false }
    return !(url.host ?? "").isEmpty
  }

  /// An RFC 9110 field name (a token).
  public static func isHeaderName(_ name: String) -> Bool {
    !name.isEmpty && name.utf8.count <= 128 && name.unicodeScalars.allSatisfy { scalar in
      scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "!#$%&'*+-.^_`|~".unicodeScalars.contains(scalar))
    }
  }

  public static func isSecretName(_ name: String) -> Bool {
    name.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9._-]{0,127}/) != nil
  }

  /// The attempt's input: everything evaluated except secrets, which stay names (they are
  /// resolved when the request is sent and never stored).
  static func input(of step: CompiledWorkflow.CompiledStep, context: ExpressionContext) throws(ExpressionError) -> JSONValue {
    let spec = step.proto.http
    func evaluate(_ text: String) throws(ExpressionError) -> String {
      text.contains("${") ? try Template(text).evaluate(in: context).interpolated : text
    }
    var headers: [String: JSONValue] = [:]
    for (name, value) in spec.headers { headers[name] = .string(try evaluate(value)) }
    let url = try evaluate(spec.url)
    guard self.isHTTPURL(url) else { throw ExpressionError("http.url evaluated to '\(url)', which is not an absolute http(s) URL") }
    var input: [String: JSONValue] = [
      "method": .string(spec.method.isEmpty ? "GET" : spec.method.uppercased()),
      "url": .string(url),
      "headers": .object(headers),
      "secret_headers": .object(spec.secretHeaders.mapValues(JSONValue.string)),
      "expected_status": .array(spec.expectedStatus.map { .number(Double($0)) }),
    ]
    if spec.hasBody { input["body"] = try JSONValue(spec.body).evaluatingTemplates(in: context) }
    if let timeout = step.timeout { input["timeout_ms"] = .number((timeout.seconds * 1000).rounded()) }
    return .object(input)
  }
}
