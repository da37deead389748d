public import Logging

/// Output format of a service's logs.
public enum LogFormat: String, Sendable, CaseIterable {
  /// One JSON object per line (the default; what log pipelines ingest).
  case json
  /// swift-log's plain text, for reading in a terminal.
  case text
}

/// A log level as written in configuration.
public enum LogLevelName: String, Sendable, CaseIterable {
  case trace, debug, info, notice, warning, error, critical

  public var level: Logger.Level {
    switch self {
    case .trace: .trace
    case .debug: .debug
    case .info: .info
    case .notice: .notice
    case .warning: .warning
    case .error: .error
    case .critical: .critical
    }
  }
}

extension LoggingSystem {
  /// Bootstraps swift-log for a Maestro executable. Only `main` calls this; libraries take a
  /// `Logger` in their initialisers.
  public static func bootstrapMaestro(format: LogFormat, level: LogLevelName) {
    LoggingSystem.bootstrap { label in
      var handler: any LogHandler
      switch format {
      case .json: handler = JSONLogHandler(label: label)
      case .text: handler = StreamLogHandler.standardError(label: label)
      }
      handler.logLevel = level.level
      return handler
    }
  }
}
