public import MaestroCore

/// Which tenant a request acts in. Everyone acts in their token's tenant; only `admin` may act
/// in another, and only explicitly (the `x-maestro-tenant` header or metadata). Such access is
/// cross-tenant and must be audited by the caller of ``resolve(principal:requested:)``.
public struct TenantScope: Sendable, Hashable {
  /// The tenant every query of the request is scoped to.
  public var tenant: String
  /// True when an admin acts in a tenant other than their own.
  public var isCrossTenant: Bool

  public init(tenant: String, isCrossTenant: Bool) {
    self.tenant = tenant
    self.isCrossTenant = isCrossTenant
  }

  /// The header (REST) and metadata key (gRPC) naming the tenant to act in.
  public static let headerName = "x-maestro-tenant"

  /// Resolves the scope; throws PERMISSION_DENIED when a non-admin names another tenant.
  public static func resolve(principal: Principal, requested: String?) throws(MaestroError) -> TenantScope {
    guard let requested = requested?.lowercased(), !requested.isEmpty, requested != principal.tenant else {
      return TenantScope(tenant: principal.tenant, isCrossTenant: false)
    }
    guard principal.has(.admin) else {
      throw .permissionDenied("only admin may act in another tenant (\(headerName))")
    }
    guard Self.isValidTenantID(requested) else {
      throw .invalidArgument(field: headerName, "must match [a-z0-9][a-z0-9_-]{0,62}")
    }
    return TenantScope(tenant: requested, isCrossTenant: true)
  }

  /// Whether `id` is a well-formed tenant id (the `auth.tenants` CHECK).
  public static func isValidTenantID(_ id: String) -> Bool {
    let bytes = Array(id.utf8)
    guard (1...63).contains(bytes.count) else { return false }
    func lowerAlnum(_ byte: UInt8) -> Bool {
      (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
    guard lowerAlnum(bytes[0]) else { return false }
    return bytes.dropFirst().allSatisfy { lowerAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
  }
}
