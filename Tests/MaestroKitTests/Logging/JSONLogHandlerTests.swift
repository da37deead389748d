import Foundation
import Logging
import MaestroKit
import Synchronization
import Testing

@Suite("JSON logs")
struct JSONLogHandlerTests {
  @Test("each line is one JSON object with level, message, metadata and the request id")
  func line() throws {
    let lines = Mutex<[String]>([])
    var logger = Logger(label: "svc") { label in
      JSONLogHandler(label: label, sink: .init { line in lines.withLock { $0.append(line) } })
    }
    logger[metadataKey: "component"] = "engine"
    RequestContext.$current.withValue(RequestContext(requestID: "req-7")) {
      logger.info("claimed \"3\" steps\n", metadata: ["count": "3", "nested": ["a": "b"]])
    }
    let captured = lines.withLock { $0 }
    #expect(captured.count == 1)
    let line = try #require(captured.first)
    #expect(line.hasSuffix("}\n"))
    let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    #expect(object["level"] as? String == "info")
    #expect(object["logger"] as? String == "svc")
    #expect(object["msg"] as? String == "claimed \"3\" steps\n")
    #expect(object["request_id"] as? String == "req-7")
    #expect(object["component"] as? String == "engine")
    #expect(object["count"] as? String == "3")
    #expect((object["nested"] as? [String: String])?["a"] == "b")
    #expect(object["ts"] is String)
  }
}
