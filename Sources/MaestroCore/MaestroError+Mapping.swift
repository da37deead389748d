public import GRPCCore

extension MaestroError.Code {
  /// The gRPC status code for this error code.
  public var rpcCode: RPCError.Code {
    switch self {
    case .invalidArgument: .invalidArgument
    case .notFound: .notFound
    case .alreadyExists: .alreadyExists
    case .permissionDenied: .permissionDenied
    case .unauthenticated: .unauthenticated
    case .failedPrecondition: .failedPrecondition
    case .aborted: .aborted
    case .resourceExhausted: .resourceExhausted
    case .deadlineExceeded: .deadlineExceeded
    case .unavailable: .unavailable
    case .unimplemented: .unimplemented
    case .internal: .internalError
    case .unknown: .unknown
    }
  }

  /// The HTTP status for this code, per the standard gRPC→HTTP mapping
  /// (google.rpc.Code / grpc-gateway): the gateway's REST side uses only this table.
  public var httpStatus: Int {
    switch self {
    case .invalidArgument: 400
    case .failedPrecondition: 400
    case .unauthenticated: 401
    case .permissionDenied: 403
    case .notFound: 404
    case .alreadyExists: 409
    case .aborted: 409
    case .resourceExhausted: 429
    case .unimplemented: 501
    case .unavailable: 503
    case .deadlineExceeded: 504
    case .internal: 500
    case .unknown: 500
    }
  }

  /// The Maestro code for a gRPC status code (for errors that arrive from another service).
  public init(_ rpcCode: RPCError.Code) {
    switch rpcCode {
    case .invalidArgument, .outOfRange: self = .invalidArgument
    case .notFound: self = .notFound
    case .alreadyExists: self = .alreadyExists
    case .permissionDenied: self = .permissionDenied
    case .unauthenticated: self = .unauthenticated
    case .failedPrecondition: self = .failedPrecondition
    case .aborted: self = .aborted
    case .resourceExhausted: self = .resourceExhausted
    case .deadlineExceeded: self = .deadlineExceeded
    case .unavailable, .cancelled: self = .unavailable
    case .unimplemented: self = .unimplemented
    case .internalError, .dataLoss: self = .internal
    default: self = .unknown
    }
  }
}
