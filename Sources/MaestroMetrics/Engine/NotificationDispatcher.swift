import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import MaestroKit
import NIOCore
import NIOHTTP1
import PostgresNIO
import ServiceLifecycle

/// Resolves a receiver's `secret_name` (a PagerDuty routing key, a webhook HMAC key): the file
/// `<directory>/<name>` if a directory is configured, else `MAESTRO_METRICS_SECRET_<NAME>`
/// (upper-cased, `-` and `.` as `_`). Values are never logged.
struct SecretResolver: Sendable {
  var directory: String?
  var environment: [String: String]

  init(directory: String?, environment: [String: String]) {
    self.directory = directory
    self.environment = environment
  }

  func resolve(_ name: String) -> String? {
    if let directory, let data = FileManager.default.contents(atPath: "\(directory)/\(name)") {
      return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    let key = "MAESTRO_METRICS_SECRET_" + name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }.map(String.init).joined()
    return self.environment[key]
  }
}

/// Delivers the notification outbox: claims due rows with `FOR UPDATE SKIP LOCKED`, POSTs each
/// to its receiver, marks it delivered on a 2xx, else schedules a retry with exponential
/// backoff (capped), forever: a receiver outage delays notifications but loses none.
struct NotificationDispatcher: Service {
  let database: Database
  let httpClient: HTTPClient
  let secrets: SecretResolver
  let interval: Duration
  let backoffBase: Duration
  let backoffCap: Duration
  let requestTimeout: Duration
  let metrics: DispatcherMetrics?
  let logger: Logger

  func run() async throws {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
      do {
        while try await self.dispatchDue(now: Date()) > 0 {}
      } catch {
        self.logger.error("notification dispatch failed", metadata: ["error": "\(error)"])
      }
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
    }
  }

  /// The retry delay after `attempts` failed attempts.
  static func backoff(attempts: Int, base: Duration, cap: Duration) -> Duration {
    let factor = pow(2, Double(min(attempts - 1, 30)))
    return min(cap, .milliseconds(Int64(base.seconds * 1000 * factor)))
  }

  /// Delivers up to `limit` due notifications; returns how many were attempted.
  @discardableResult
  func dispatchDue(now: Date, limit: Int = 16) async throws -> Int {
    try await self.database.withTransaction { connection in
      let rows = try await connection.query(
        """
        SELECT o.id, o.kind, o.payload::text, o.attempts, r.type, r.url, r.secret_ref, r.name
        FROM notification_outbox o JOIN receivers r ON r.tenant = o.tenant AND r.id = o.receiver_id
        WHERE o.delivered_at IS NULL AND o.next_attempt_at <= \(now)
        ORDER BY o.next_attempt_at LIMIT \(limit) FOR UPDATE OF o SKIP LOCKED
        """,
        logger: self.logger
      ).collect()
      for row in rows {
        let (id, kind, payload, attempts, type, url, secretRef, receiver) = try row.decode((Int64, String, String, Int, String, String, String?, String).self)
        let result = await self.deliver(type: type, url: url, payload: payload, secretRef: secretRef)
        switch result {
        case .success:
          _ = try await connection.query("UPDATE notification_outbox SET delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = \(id)", logger: self.logger).collect()
          self.metrics?.delivered(kind: kind)
        case .failure(let reason):
          let delay = Self.backoff(attempts: attempts + 1, base: self.backoffBase, cap: self.backoffCap)
          _ = try await connection.query(
            """
            UPDATE notification_outbox SET attempts = attempts + 1, last_error = \(String(reason.prefix(500))),
              next_attempt_at = \(now.addingTimeInterval(delay.seconds)) WHERE id = \(id)
            """,
            logger: self.logger
          ).collect()
          self.metrics?.failed(kind: kind)
          self.logger.warning("notification delivery failed; will retry", metadata: ["receiver": "\(receiver)", "outbox_id": "\(id)", "attempt": "\(attempts + 1)", "reason": "\(reason)", "retry_in": "\(delay)"])
        }
      }
      return rows.count
    }
  }

  enum DeliveryResult {
    case success
    case failure(String)
  }

  func deliver(type: String, url: String, payload: String, secretRef: String?) async -> DeliveryResult {
    var body = Data(payload.utf8)
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.headers.add(name: "User-Agent", value: "maestro-metrics-service")
    let secret = secretRef.flatMap { self.secrets.resolve($0) }
    if secretRef != nil, secret == nil {
      return .failure("secret '\(secretRef!)' is not configured")
    }
    switch type {
    case "pagerduty":
      guard let secret, var object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
        return .failure("PagerDuty receivers need a routing key (secret_name)")
      }
      object["routing_key"] = secret
      body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? body
    default:
      if let secret {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        request.headers.add(name: "X-Maestro-Signature", value: "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
      }
    }
    request.body = .bytes(ByteBuffer(bytes: body))
    do {
      let response = try await self.httpClient.execute(request, timeout: .milliseconds(Int64(self.requestTimeout.seconds * 1000)))
      _ = try? await response.body.collect(upTo: 64 * 1024)
      guard (200..<300).contains(response.status.code) else { return .failure("HTTP \(response.status.code)") }
      return .success
    } catch {
      return .failure("\(error)")
    }
  }
}
