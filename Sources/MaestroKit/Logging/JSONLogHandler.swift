import Foundation
import MaestroCore
public import Logging
import Synchronization

/// A swift-log handler that writes one JSON object per line to standard error:
/// `{"ts":…,"level":…,"logger":…,"msg":…,"request_id":…,…metadata}`.
///
/// The request id comes from ``RequestContext/current`` so every line a request causes can be
/// found by it. Writes are serialised so lines never interleave.
public struct JSONLogHandler: LogHandler {
  public var metadata: Logger.Metadata = [:]
  public var logLevel: Logger.Level = .info
  public var metadataProvider: Logger.MetadataProvider?
  private let label: String
  private let sink: Sink

  /// Where the lines go: standard error, or a closure (tests).
  public final class Sink: Sendable {
    private let write: Mutex<@Sendable (String) -> Void>

    public init(_ write: @escaping @Sendable (String) -> Void) {
      self.write = Mutex(write)
    }

    public static let standardError = Sink { line in
      FileHandle.standardError.write(Data(line.utf8))
    }

    func emit(_ line: String) {
      self.write.withLock { $0(line) }
    }
  }

  public init(label: String, sink: Sink = .standardError) {
    self.label = label
    self.sink = sink
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { self.metadata[key] }
    set { self.metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var merged = self.metadata
    if let provided = self.metadataProvider?.get() { merged.merge(provided) { $1 } }
    if let extra = event.metadata { merged.merge(extra) { $1 } }

    var line = "{\"ts\":"
    JSONString.append(Self.timestamp(), to: &line)
    line += ",\"level\":"
    JSONString.append(event.level.rawValue, to: &line)
    line += ",\"logger\":"
    JSONString.append(self.label, to: &line)
    line += ",\"msg\":"
    JSONString.append(event.message.description, to: &line)
    if let requestID = RequestContext.current?.requestID, merged["request_id"] == nil {
      line += ",\"request_id\":"
      JSONString.append(requestID, to: &line)
    }
    for key in merged.keys.sorted() where !["ts", "level", "logger", "msg"].contains(key) {
      line += ","
      JSONString.append(key, to: &line)
      line += ":"
      JSONText.append(merged[key]!, to: &line)
    }
    if event.level >= .error {
      line += ",\"source\":"
      JSONString.append("\(event.file):\(event.line)", to: &line)
    }
    line += "}\n"
    self.sink.emit(line)
  }

  private static func timestamp() -> String {
    Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
  }
}

/// Minimal JSON text encoding for log lines.
enum JSONText {
  static func append(_ value: Logger.Metadata.Value, to line: inout String) {
    switch value {
    case .string(let string):
      JSONString.append(string, to: &line)
    case .stringConvertible(let convertible):
      JSONString.append(convertible.description, to: &line)
    case .array(let values):
      line += "["
      for (index, element) in values.enumerated() {
        if index > 0 { line += "," }
        self.append(element, to: &line)
      }
      line += "]"
    case .dictionary(let dictionary):
      line += "{"
      for (index, key) in dictionary.keys.sorted().enumerated() {
        if index > 0 { line += "," }
        JSONString.append(key, to: &line)
        line += ":"
        self.append(dictionary[key]!, to: &line)
      }
      line += "}"
    }
  }
}
