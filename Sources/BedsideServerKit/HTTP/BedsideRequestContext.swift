import Hummingbird

/// Per-request context: Hummingbird's core storage plus the peer address for the audit trail.
public struct BedsideRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's address: the peer's, or behind a trusted proxy the one it forwarded
    /// (`ClientAddressMiddleware`).
    public var remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Bodies over this size are refused with 413 (DESIGN.md: 1 MiB).
    public var maxUploadSize: Int { ServerRoutes.bodyLimit }
}
