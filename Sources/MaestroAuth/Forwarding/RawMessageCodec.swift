public import GRPCCore

/// Passes serialized messages through untouched: the gateway forwards protobuf bytes without
/// decoding them (gRPC) or after encoding them itself (REST).
public struct RawMessageCodec: MessageSerializer, MessageDeserializer {
  public typealias Message = [UInt8]

  public init() {}

  public func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
    Bytes(message)
  }

  public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
    serializedMessageBytes.withUnsafeBytes { Array($0) }
  }
}
