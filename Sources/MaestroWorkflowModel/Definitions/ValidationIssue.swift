/// One problem in a definition: the path of the offending field and what is wrong.
public struct DefinitionIssue: Sendable, Hashable, CustomStringConvertible {
  /// e.g. `steps[2].depends_on[0]`.
  public var path: String
  public var message: String
  /// A stable machine-readable code, e.g. `unknown_step_type`.
  public var code: String

  public init(_ path: String, _ message: String, code: String) {
    self.path = path
    self.message = message
    self.code = code
  }

  public var description: String { "\(self.path): \(self.message)" }
}
