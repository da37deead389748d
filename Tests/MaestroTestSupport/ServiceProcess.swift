public import Foundation

/// A Maestro executable started as a child process for an end-to-end test, with its output in
/// a temporary file (JSON log lines) that the test reads to learn the ports it bound.
public final class ServiceProcess: @unchecked Sendable {
  // @unchecked: `process` is a Foundation Process (not Sendable); it is created in init and
  // afterwards only used through its thread-safe methods (terminate, isRunning, status).
  public let name: String
  public let logPath: String
  private let process: Process

  /// Starts `<bin>/<name> <arguments>` with `environment` added to ours, in
  /// `workingDirectory` when given (relative default paths resolve there, as in the local suite).
  public init(name: String, arguments: [String], environment: [String: String], workingDirectory: String? = nil) throws {
    self.name = name
    self.logPath = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-\(name)-\(UUID().uuidString).log").path
    _ = FileManager.default.createFile(atPath: self.logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: self.logPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try TestEnvironment.binDirectory() + "/" + name)
    process.arguments = arguments
    if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = log
    process.standardError = log
    try process.run()
    self.process = process
  }

  deinit {
    if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
    try? FileManager.default.removeItem(atPath: self.logPath)
  }

  /// The process's output so far.
  public var output: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

  public var isRunning: Bool { self.process.isRunning }

  public var processIdentifier: Int32 { self.process.processIdentifier }

  /// Polls the JSON log for a line carrying `key` (e.g. `grpc_port`) and returns its value.
  public func waitForLogValue(_ key: String, timeout: Duration = .seconds(60)) async throws -> String {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      for line in self.output.split(separator: "\n") {
        guard let data = line.data(using: .utf8),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let value = object[key] as? String
        else { continue }
        return value
      }
      guard self.process.isRunning else {
        throw TestSetupError("\(self.name) exited (status \(self.process.terminationStatus)) before logging \(key):\n\(self.output)")
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw TestSetupError("\(self.name) did not log \(key) within \(timeout):\n\(self.output)")
  }

  /// The port logged under `key`.
  public func port(_ key: String) async throws -> Int {
    let value = try await self.waitForLogValue(key)
    guard let port = Int(value) else { throw TestSetupError("\(self.name) logged \(key)=\(value)") }
    return port
  }

  /// Sends `signal` and waits up to `timeout` for the exit; returns the exit status, or nil if
  /// the process is still running at the deadline (then it is killed).
  public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) async throws -> Int32? {
    kill(self.process.processIdentifier, signal)
    let deadline = ContinuousClock.now + timeout
    while self.process.isRunning {
      guard ContinuousClock.now < deadline else {
        kill(self.process.processIdentifier, SIGKILL)
        return nil
      }
      try await Task.sleep(for: .milliseconds(20))
    }
    return self.process.terminationStatus
  }

  /// Waits up to `timeout` for the process to exit on its own; its status, or nil.
  public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32? {
    let deadline = ContinuousClock.now + timeout
    while self.process.isRunning {
      guard ContinuousClock.now < deadline else { return nil }
      try await Task.sleep(for: .milliseconds(20))
    }
    return self.process.terminationStatus
  }
}
