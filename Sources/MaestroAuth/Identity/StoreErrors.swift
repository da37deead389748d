import Foundation
import MaestroCore
import PostgresNIO

/// Maps Postgres failures to caller-safe ``MaestroError``s (constraint names never leak).
enum StoreErrors {
  static func map(_ error: any Error, conflict: String) -> any Error {
    if error is MaestroError { return error }
    if let psql = error as? PSQLError, let state = psql.serverInfo?[.sqlState] {
      switch state {
      case "23505": return MaestroError(.alreadyExists, conflict)
      case "23503": return MaestroError.notFound("a referenced resource does not exist")
      case "23514", "22P02": return MaestroError(.invalidArgument, "a value is out of range or malformed")
      default: break
      }
    }
    return MaestroError.internal(cause: error)
  }

  /// The UUID in `text`, or NOT_FOUND (ids that cannot exist are simply not found).
  static func id(_ text: String, kind: String) throws(MaestroError) -> UUID {
    guard let id = UUID(uuidString: text) else { throw .notFound("\(kind) '\(text)' not found") }
    return id
  }
}
