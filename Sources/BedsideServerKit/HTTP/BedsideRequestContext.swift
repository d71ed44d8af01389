import Hummingbird
import Synchronization

/// Shared by the copies of one request's context: set when the token is checked, read when the
/// request is refused.
final class CallerRecord: Sendable {
    private let principal = Mutex<Principal?>(nil)

    func set(_ value: Principal) { principal.withLock { $0 = value } }
    var value: Principal? { principal.withLock { $0 } }
}

/// Per-request context: Hummingbird's core storage plus the peer address for the audit trail.
public struct BedsideRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's address: the peer's, or behind a trusted proxy the one it forwarded
    /// (`ClientAddressMiddleware`).
    public var remoteAddress: String?

    /// Who the request turned out to be from, once authenticated: a refusal's audit line names them.
    let caller = CallerRecord()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Bodies over this size are refused with 413 (DESIGN.md: 1 MiB).
    public var maxUploadSize: Int { ServerRoutes.bodyLimit }
}
