import GRPCCore
import MaestroCore
import Testing

@Suite("MaestroError")
struct MaestroErrorTests {
  @Test(
    "maps to the standard gRPC and HTTP codes",
    arguments: [
      (MaestroError.Code.invalidArgument, RPCError.Code.invalidArgument, 400),
      (.failedPrecondition, .failedPrecondition, 400),
      (.unauthenticated, .unauthenticated, 401),
      (.permissionDenied, .permissionDenied, 403),
      (.notFound, .notFound, 404),
      (.alreadyExists, .alreadyExists, 409),
      (.aborted, .aborted, 409),
      (.resourceExhausted, .resourceExhausted, 429),
      (.unimplemented, .unimplemented, 501),
      (.unavailable, .unavailable, 503),
      (.deadlineExceeded, .deadlineExceeded, 504),
      (.internal, .internalError, 500),
      (.unknown, .unknown, 500),
    ]
  )
  func mapping(code: MaestroError.Code, rpc: RPCError.Code, http: Int) {
    #expect(code.rpcCode == rpc)
    #expect(code.httpStatus == http)
    #expect(MaestroError.Code(rpc) == code)
  }

  @Test("every code has a mapping case in the table above")
  func exhaustive() {
    #expect(MaestroError.Code.allCases.count == 13)
  }

  @Test("an RPC error's message and metadata (what reaches the caller) carry no cause")
  func rpcConversion() {
    struct Secret: Error, CustomStringConvertible { var description: String { "password=hunter2" } }
    let error = MaestroError(.invalidArgument, "steps[2].depends_on: unknown step 'x'", field: "steps[2].depends_on", cause: Secret())
    let rpc = RPCError(error)
    #expect(rpc.code == .invalidArgument)
    #expect(rpc.message == "steps[2].depends_on: unknown step 'x'")
    #expect(Array(rpc.metadata[stringValues: "maestro-field"]) == ["steps[2].depends_on"])
    #expect(!rpc.message.contains("hunter2"))
    #expect(!rpc.metadata.description.contains("hunter2"))
  }
}
