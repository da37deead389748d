import Foundation
public import MaestroCore
public import MaestroProtos
import MaestroWorkflowModel
import SwiftProtobuf
import Yams

/// Reads workflow definitions from YAML or JSON (their canonical proto JSON form).
///
/// For convenience, duration fields also accept `250ms`, `5m`, `1h30m` (converted to the
/// proto JSON form `"300s"`), and field names may be snake_case or lowerCamelCase.
public enum DefinitionLoader {
  /// Field names whose values are `google.protobuf.Duration`.
  static let durationFields: Set<String> = [
    "run_timeout", "runTimeout", "sla", "default_step_timeout", "defaultStepTimeout", "timeout",
    "initial_backoff", "initialBackoff", "max_backoff", "maxBackoff", "duration", "heartbeat_timeout",
    "heartbeatTimeout", "schedule_to_start_timeout", "scheduleToStartTimeout",
  ]

  /// A definition from YAML (JSON is YAML too).
  public static func definition(yaml text: String) throws(MaestroError) -> Maestro_Workflow_V1_WorkflowDefinition {
    let json = try self.json(fromYAML: text)
    do {
      var options = JSONDecodingOptions()
      options.ignoreUnknownFields = false
      return try Maestro_Workflow_V1_WorkflowDefinition(jsonString: json, options: options)
    } catch {
      throw MaestroError.invalidArgument(field: "definition", "not a valid workflow definition: \(error)")
    }
  }

  /// A definition from a `.yaml`, `.yml` or `.json` file.
  public static func definition(file path: String) throws(MaestroError) -> Maestro_Workflow_V1_WorkflowDefinition {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw MaestroError(.failedPrecondition, "cannot read \(path)", cause: error)
    }
    return try self.definition(yaml: text)
  }

  static func json(fromYAML text: String) throws(MaestroError) -> String {
    let node: Any?
    do {
      node = try Yams.load(yaml: text)
    } catch {
      throw MaestroError.invalidArgument(field: "definition", "invalid YAML: \(error)")
    }
    guard let node else { throw MaestroError.invalidArgument(field: "definition", "is empty") }
    return try self.jsonValue(node, key: nil, path: "").jsonText
  }

  private static func jsonValue(_ node: Any, key: String?, path: String) throws(MaestroError) -> JSONValue {
    switch node {
    case let dictionary as [String: Any]:
      var members: [String: JSONValue] = [:]
      for (name, value) in dictionary { members[name] = try self.jsonValue(value, key: name, path: path.isEmpty ? name : "\(path).\(name)") }
      return .object(members)
    case let dictionary as [AnyHashable: Any]:
      var members: [String: JSONValue] = [:]
      for (name, value) in dictionary {
        let name = "\(name)"
        members[name] = try self.jsonValue(value, key: name, path: path.isEmpty ? name : "\(path).\(name)")
      }
      return .object(members)
    case let array as [Any]:
      var values: [JSONValue] = []
      for (index, element) in array.enumerated() { values.append(try self.jsonValue(element, key: nil, path: "\(path)[\(index)]")) }
      return .array(values)
    case let string as String:
      if let key, self.durationFields.contains(key), !string.contains("${") {
        do {
          let duration = try DurationParser.parse(string)
          return .string(self.protoDuration(duration))
        } catch {
          throw MaestroError.invalidArgument(field: path, error.description)
        }
      }
      return .string(string)
    case let bool as Bool: return .bool(bool)
    case let int as Int: return .number(Double(int))
    case let double as Double: return .number(double)
    case is NSNull: return .null
    default:
      if let key, self.durationFields.contains(key), let number = node as? NSNumber { return .string(self.protoDuration(.milliseconds(Int64(number.doubleValue * 1000)))) }
      return .string("\(node)")
    }
  }

  static func protoDuration(_ duration: Duration) -> String {
    let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : String(format: "%.3fs", Double(milliseconds) / 1000)
  }

  /// The definition or template files (`.yaml`, `.yml`, `.json`) in `directory`, sorted; nil
  /// when the directory cannot be read.
  static func files(in directory: String) -> [String]? {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
    return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }.sorted()
  }
}
