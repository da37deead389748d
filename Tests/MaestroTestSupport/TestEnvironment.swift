public import Foundation

/// Where the tests find what `make test` prepared: the repository, the built executables and
/// the private Postgres.
public enum TestEnvironment {
  /// The repository root (from `MAESTRO_REPO_ROOT`, else derived from this file's path).
  public static var repositoryRoot: String {
    if let root = ProcessInfo.processInfo.environment["MAESTRO_REPO_ROOT"], !root.isEmpty { return root }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
  }

  /// `services/`, the migrations root.
  public static var servicesRoot: String { self.repositoryRoot + "/services" }

  /// The superuser URL of the test Postgres (`MAESTRO_TEST_DATABASE_URL`, set by `make test`).
  public static func adminURL() throws -> URLComponents {
    guard let url = ProcessInfo.processInfo.environment["MAESTRO_TEST_DATABASE_URL"], !url.isEmpty,
      let components = URLComponents(string: url)
    else {
      throw TestSetupError("MAESTRO_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts their Postgres")
    }
    return components
  }

  /// The folder holding the built executables (`MAESTRO_BIN_DIR`, set by `make test`).
  public static func binDirectory() throws -> String {
    if let bin = ProcessInfo.processInfo.environment["MAESTRO_BIN_DIR"], !bin.isEmpty { return bin }
    let guess = self.repositoryRoot + "/.build/debug"
    guard FileManager.default.isExecutableFile(atPath: guess + "/migration-service") else {
      throw TestSetupError("MAESTRO_BIN_DIR is not set and \(guess) has no executables: run `make test`")
    }
    return guess
  }
}

/// The test environment is not prepared.
public struct TestSetupError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
