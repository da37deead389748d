import Foundation
public import MaestroCore
public import MaestroProtos
import SwiftProtobuf

/// Reads templates from YAML or JSON (the canonical proto JSON form of `Template`), with the
/// same conveniences as ``DefinitionLoader``: durations like `5m`, snake_case or lowerCamelCase
/// field names.
public enum TemplateLoader {
  /// A template from YAML (JSON is YAML too).
  public static func template(yaml text: String) throws(MaestroError) -> Maestro_Workflow_V1_Template {
    let json: String
    do {
      json = try DefinitionLoader.json(fromYAML: text)
    } catch {
      // The loader names its own document "definition".
      let field = error.field ?? "definition"
      let message = error.message.hasPrefix("\(field): ") ? String(error.message.dropFirst(field.count + 2)) : error.message
      throw MaestroError.invalidArgument(field: field == "definition" ? "template" : "template.\(field)", message)
    }
    do {
      var options = JSONDecodingOptions()
      options.ignoreUnknownFields = false
      return try Maestro_Workflow_V1_Template(jsonString: json, options: options)
    } catch {
      throw MaestroError.invalidArgument(field: "template", "not a valid template: \(error)")
    }
  }

  /// A template from a `.yaml`, `.yml` or `.json` file.
  public static func template(file path: String) throws(MaestroError) -> Maestro_Workflow_V1_Template {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw MaestroError(.failedPrecondition, "cannot read \(path)", cause: error)
    }
    return try self.template(yaml: text)
  }
}
