/// Size limits on what a request may carry, on both front doors [MAESTRO_MAX_BODY_BYTES,
/// MAESTRO_MAX_HEADER_BYTES, MAESTRO_MAX_PATH_BYTES].
public struct RequestLimits: Sendable, Hashable {
  /// Largest REST request body (413 beyond) and gRPC request message.
  public var maxBodyBytes: Int = 1 << 20
  /// Largest total of header (metadata) names and values (431 / RESOURCE_EXHAUSTED beyond).
  public var maxHeaderBytes: Int = 16 * 1024
  /// Longest request path with its query (414 beyond).
  public var maxPathBytes: Int = 2048

  public init() {}
}
