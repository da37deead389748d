import Foundation
import GRPCCore
import MaestroAuth
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import Testing

@Suite("Forwarding: catalog, metadata, addresses, REST paths and field errors")
struct ForwardingUnitTests {
  /// `(service, method, server streaming)` of every RPC in protos/, read from the files.
  static func protoRPCs() throws -> [(service: String, method: String, streaming: Bool)] {
    var result: [(String, String, Bool)] = []
    let root = TestEnvironment.repositoryRoot + "/protos/maestro"
    for name in ["workflow", "scheduler", "metrics", "migration"] {
      let text = try String(contentsOfFile: "\(root)/\(name)/v1/\(name).proto", encoding: .utf8)
      var service = ""
      for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
        if line.hasPrefix("service ") { service = "maestro.\(name).v1." + line.dropFirst(8).prefix { $0 != " " && $0 != "{" } }
        if line.hasPrefix("rpc ") {
          let method = String(line.dropFirst(4).prefix { $0 != "(" && $0 != " " })
          result.append((service, method, line.contains("returns (stream")))
        }
      }
    }
    return result
  }

  @Test("every backend RPC in protos/ is forwarded, streaming exactly where the proto streams, and has a policy entry")
  func catalogCoversProtos() throws {
    let rpcs = try Self.protoRPCs()
    #expect(rpcs.count > 40)
    for rpc in rpcs {
      let full = "\(rpc.service)/\(rpc.method)"
      let service = try #require(BackendCatalog.maestro.service(forMethod: full), "\(full) is not forwarded")
      let descriptor = try #require(service.methods.first { $0.fullyQualifiedMethod == full })
      #expect(service.streamsResponses(descriptor) == rpc.streaming, "\(full)")
      #expect(AccessPolicy.maestro.requirement(for: full) != nil, "\(full) has no permission")
    }
    let forwarded = BackendCatalog.maestro.services.flatMap(\.methods).count
    #expect(forwarded == rpcs.count)
    #expect(BackendCatalog.maestro.backends == ["workflow-service", "scheduler", "metrics-service", "migration-service"])
  }

  @Test("every backend RPC has a REST route")
  func restCoversRPCs() throws {
    let routed = Set(BackendRoute.maestro.map(\.method.fullyQualifiedMethod))
    for rpc in try Self.protoRPCs() {
      #expect(routed.contains("\(rpc.service)/\(rpc.method)"), "\(rpc.service)/\(rpc.method) has no REST route")
    }
  }

  @Test("pseudo, hop-by-hop and transport headers are stripped; the rest crosses")
  func metadataFilter() {
    let inbound: Metadata = [
      ":path": "/x/y", ":authority": "gw", "content-type": "application/grpc", "te": "trailers", "connection": "keep-alive",
      "grpc-timeout": "5S", "user-agent": "grpc-python", "grpc-accept-encoding": "gzip", "Grpc-Status": "0",
      "authorization": "Bearer t", "traceparent": "00-abc-def-01", "x-request-id": "r1", "x-maestro-tenant": "other", "x-custom-bin": .binary([1, 2]),
    ]
    let forwarded = ForwardedMetadata.filter(inbound)
    #expect(Set(forwarded.map(\.key)) == ["authorization", "traceparent", "x-request-id", "x-maestro-tenant", "x-custom-bin"])
    #expect(ForwardedMetadata.timeout(in: inbound) == .seconds(5))
  }

  @Test("grpc-timeout units", arguments: [("1H", Duration.seconds(3600)), ("2M", .seconds(120)), ("250m", .milliseconds(250)), ("7u", .microseconds(7)), ("9n", .nanoseconds(9))])
  func timeouts(text: String, duration: Duration) {
    #expect(ForwardedMetadata.timeout(in: ["grpc-timeout": .string(text)]) == duration)
  }

  @Test("bad grpc-timeout values are ignored")
  func badTimeouts() {
    for text in ["", "S", "5", "5s", "123456789S", "-1S"] {
      #expect(ForwardedMetadata.timeout(in: ["grpc-timeout": .string(text)]) == nil, "\(text)")
    }
  }

  @Test("backend addresses: one, a list, DNS; errors name the setting")
  func addresses() throws {
    #expect(try BackendAddresses.parse("127.0.0.1:9101", setting: "S").description == "127.0.0.1:9101")
    #expect(try BackendAddresses.parse("10.0.0.1:1, 10.0.0.2:2", setting: "S").form == .addresses([.init(host: "10.0.0.1", port: 1), .init(host: "10.0.0.2", port: 2)]))
    #expect(try BackendAddresses.parse("dns:///workflow.maestro.svc:9101", setting: "S").form == .dns(.init(host: "workflow.maestro.svc", port: 9101)))
    #expect(try BackendAddresses.parse("[::1]:9101", setting: "S").form == .addresses([.init(host: "::1", port: 9101)]))
    for bad in ["", "host", "host:0", "host:99999", "dns:"] {
      let error = #expect(throws: ConfigurationError.self) { try BackendAddresses.parse(bad, setting: "MAESTRO_X") }
      #expect(error?.setting == "MAESTRO_X")
    }
  }

  @Test("path templates: parameters, custom verbs, percent-decoding")
  func paths() {
    let get = RESTPathTemplate("/v1/runs/{id}")
    let cancel = RESTPathTemplate("/v1/runs/{id}:cancel")
    let validate = RESTPathTemplate("/v1/workflows:validate")
    #expect(get.match("/v1/runs/r-1") == ["id": "r-1"])
    #expect(get.match("/v1/runs/r-1:cancel") == nil)
    #expect(cancel.match("/v1/runs/r-1:cancel") == ["id": "r-1"])
    #expect(cancel.match("/v1/runs/r-1") == nil)
    #expect(get.match("/v1/runs/a%20b") == ["id": "a b"])
    #expect(get.match("/v1/runs/%zz") == nil)
    #expect(get.match("/v1/runs/") == nil)
    #expect(validate.match("/v1/workflows:validate") == [:])
    #expect(RESTPathTemplate("/v1/workflows/{name}").match("/v1/workflows:validate") == nil)
    #expect(cancel.parameters == ["id"])
  }

  @Test("the OpenAPI document lists every route the REST port serves, with its parameters")
  func openAPICoversRoutes() throws {
    let data = OpenAPIDocument.json(serverURL: "http://127.0.0.1:8080")
    let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(document["openapi"] as? String == "3.0.3")
    let paths = try #require(document["paths"] as? [String: [String: Any]])
    let routes = OpenAPIDocument.allRoutes()
    #expect(routes.count >= BackendRoute.maestro.count + RESTGateway.routeTable.count + 2)
    for route in routes {
      let operation = paths[route.path]?[route.method.lowercased()] as? [String: Any]
      #expect(operation != nil, "\(route.method) \(route.path) is missing from /openapi.json")
      let declared = Set(((operation?["parameters"] as? [[String: Any]]) ?? []).filter { $0["in"] as? String == "path" }.compactMap { $0["name"] as? String })
      #expect(declared == Set(RESTPathTemplate(route.path).parameters), "\(route.path)")
    }
    // The routes, spelled exactly.
    for (method, path) in [
      ("post", "/v1/workflows"), ("get", "/v1/workflows/{name}"), ("post", "/v1/runs"), ("get", "/v1/runs/{id}"), ("get", "/v1/runs"),
      ("post", "/v1/runs/{id}:cancel"), ("post", "/v1/runs/{id}:retry"), ("post", "/v1/runs/{id}:signal"), ("get", "/v1/runs/{id}/events"),
      ("get", "/v1/templates"), ("post", "/v1/templates/{name}:instantiate"), ("get", "/v1/schedules"), ("get", "/v1/slos"), ("get", "/v1/alerts"),
      ("get", "/v1/migrations/status"), ("get", "/openapi.json"),
    ] {
      #expect(paths[path]?[method] != nil, "\(method) \(path)")
    }
    let operationIDs = paths.values.flatMap { $0.values.compactMap { ($0 as? [String: Any])?["operationId"] as? String } }
    #expect(Set(operationIDs).count == operationIDs.count, "operation ids are not unique")
  }
}
