import Foundation
public import MaestroCore
import SwiftProtobuf

/// A request body or query that does not decode as the RPC's request message, with the path
/// of the offending field in proto JSON names (`definition.steps[2].timeout`).
public struct RESTFieldError: Error, Sendable {
  public var path: String
  public var reason: String

  public var maestroError: MaestroError {
    MaestroError(.invalidArgument, "\(self.path.isEmpty ? "request" : self.path): \(self.reason)", field: self.path.isEmpty ? nil : self.path)
  }

  /// Decodes `json` with `decode`; on failure, finds the field responsible by decoding the
  /// smallest sub-document that still fails (each member alone, then each of its members, …).
  static func locating<T>(_ json: Data, _ decode: (Data) throws -> T) throws -> T {
    do {
      return try decode(json)
    } catch let error as JSONDecodingError {
      guard let object = (try? JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])) as? [String: Any] else {
        throw RESTFieldError(path: "", reason: Self.describe(error))
      }
      throw Self.locate(object, error: error) { candidate in
        guard let data = try? JSONSerialization.data(withJSONObject: candidate) else { return nil }
        do {
          _ = try decode(data)
          return nil
        } catch let error as JSONDecodingError {
          return error
        } catch {
          return nil
        }
      }
    } catch let error as BinaryEncodingError {
      throw RESTFieldError(path: "", reason: "cannot be encoded: \(error)")
    }
  }

  /// Narrows the failure down: `fails` decodes a trimmed copy of the whole document.
  static func locate(_ root: [String: Any], error: JSONDecodingError, fails: ([String: Any]) -> JSONDecodingError?) -> RESTFieldError {
    if case .unknownField(let name) = error, root[name] != nil {
      return RESTFieldError(path: name, reason: "unknown field")
    }
    // `path` is a list of keys and indices from the root; `rebuild` keeps only that branch.
    enum Step { case key(String), index(Int) }
    func rebuild(_ value: Any, along steps: ArraySlice<Step>, leaf: Any) -> Any {
      guard let step = steps.first else { return leaf }
      switch step {
      case .key(let key):
        let inner = (value as? [String: Any])?[key] ?? NSNull()
        return [key: rebuild(inner, along: steps.dropFirst(), leaf: leaf)]
      case .index(let index):
        let inner = (value as? [Any]).flatMap { index < $0.count ? $0[index] : nil } ?? NSNull()
        return [rebuild(inner, along: steps.dropFirst(), leaf: leaf)]
      }
    }
    var steps: [Step] = []
    var current: Any = root
    var lastError = error
    narrowing: while true {
      var children: [(Step, Any)] = []
      if let object = current as? [String: Any] {
        children = object.keys.sorted().map { (.key($0), object[$0]!) }
      } else if let array = current as? [Any] {
        children = array.enumerated().map { (.index($0.offset), $0.element) }
      }
      for (step, child) in children {
        let candidate = rebuild(root, along: (steps + [step])[...], leaf: child)
        guard let object = candidate as? [String: Any], let failure = fails(object) else { continue }
        steps.append(step)
        current = child
        lastError = failure
        if case .unknownField(let name) = failure, (child as? [String: Any])?[name] != nil {
          steps.append(.key(name))
          break narrowing
        }
        continue narrowing
      }
      break
    }
    var path = ""
    for step in steps {
      switch step {
      case .key(let key): path += path.isEmpty ? key : ".\(key)"
      case .index(let index): path += "[\(index)]"
      }
    }
    if case .unknownField = lastError { return RESTFieldError(path: path, reason: "unknown field") }
    return RESTFieldError(path: path, reason: Self.describe(lastError))
  }

  static func describe(_ error: JSONDecodingError) -> String {
    switch error {
    case .malformedNumber, .numberRange, .leadingZero: "expected a number in range"
    case .malformedBool: "expected true or false"
    case .malformedString, .invalidUTF8: "expected a string"
    case .malformedMap, .unquotedMapKey: "expected an object (map)"
    case .unrecognizedEnumValue: "unknown enum value"
    case .illegalNull: "may not be null"
    case .malformedDuration: "expected a duration such as \"1.5s\""
    case .malformedTimestamp: "expected an RFC 3339 timestamp such as \"2026-01-02T03:04:05Z\""
    case .malformedFieldMask: "expected a field mask such as \"name,labels\""
    case .conflictingOneOf: "sets more than one field of a oneof"
    case .unknownField(let name): "unknown field \(name)"
    case .schemaMismatch: "has the wrong type"
    case .messageDepthLimit: "is nested too deeply"
    default: "has the wrong type or is malformed"
    }
  }
}
