import Hummingbird

/// Per-request context: Hummingbird's core storage plus the peer address for the audit trail.
public struct BedsideRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Bodies over this size are refused with 413 (DESIGN.md: 1 MiB).
    public var maxUploadSize: Int { ServerRoutes.bodyLimit }
}
