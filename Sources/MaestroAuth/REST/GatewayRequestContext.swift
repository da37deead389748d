public import Hummingbird
import NIOCore

/// The REST request context: Hummingbird's core storage plus the client's IP address.
public struct GatewayRequestContext: RequestContext {
  public var coreContext: CoreRequestContextStorage
  /// The peer's IP address, when the transport has one.
  public let remoteAddress: String?

  public init(source: ApplicationRequestContextSource) {
    self.coreContext = .init(source: source)
    self.remoteAddress = source.channel.remoteAddress?.ipAddress
  }

  /// Request bodies are small JSON or form documents.
  public var maxUploadSize: Int { 64 * 1024 }
}

/// A header name (`HTTPField.Name`, which Hummingbird does not re-export by that name).
typealias HeaderName = HTTPFields.Element.Name
