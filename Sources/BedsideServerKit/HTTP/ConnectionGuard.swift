import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// How long a connection may keep the server waiting, and how many one address may hold.
public struct ConnectionLimits: Sendable, Equatable {
    /// From accepting a connection to a complete first request head: the TLS handshake and the headers.
    public var firstRequestSeconds: Int64 = 10
    /// Between the end of one answer and the complete head of the next request on the same connection.
    public var idleSeconds: Int64 = 30
    /// From a request's head to the end of its body.
    public var bodySeconds: Int64 = 30
    /// Open connections per client address (trusted proxies are not counted: they carry many clients).
    public var connectionsPerAddress = 32

    public init() {}
}

/// Open connections per address, shared by every connection's guard.
final class ConnectionCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Counts a connection from `address`; false (and not counted) when it would pass `limit`.
    func open(_ address: String, limit: Int) -> Bool {
        counts.withLock { counts in
            let current = counts[address, default: 0]
            guard current < limit else { return false }
            counts[address] = current + 1
            return true
        }
    }

    func close(_ address: String) {
        counts.withLock { counts in
            let left = counts[address, default: 1] - 1
            counts[address] = left > 0 ? left : nil
        }
    }
}

/// Closes a connection that holds the server without asking anything: a TLS handshake or headers that
/// never finish (3 bytes of a ClientHello, a slowloris), a body that trickles, a keep-alive that idles;
/// and refuses connections past the per-address cap. It never closes a connection while the server
/// is working on its request: the clocks run only while the server waits for the client.
///
/// It sits after the HTTP decoder, so it sees whole request heads; it is added when the connection is
/// accepted, so the first deadline also covers the TLS handshake before it.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Phase { case awaitingHead, readingBody, answering }

    private let limits: ConnectionLimits
    private let counter: ConnectionCounter
    private let isExempt: @Sendable (String) -> Bool
    private let logger: Logger
    private var phase = Phase.awaitingHead
    /// The answer went out before the request's body ended (a refusal need not wait for the body).
    private var answeredEarly = false
    private var countedAddress: String?
    private var deadline: Scheduled<Void>?

    init(limits: ConnectionLimits, counter: ConnectionCounter, isExempt: @escaping @Sendable (String) -> Bool, logger: Logger) {
        self.limits = limits
        self.counter = counter
        self.isExempt = isExempt
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if let peer = context.channel.remoteAddress?.ipAddress, !isExempt(peer) {
            let address = AddressRange.budgetKey(peer)
            guard counter.open(address, limit: limits.connectionsPerAddress) else {
                logger.notice("connection refused: too many from one address", metadata: ["peer": "\(address)"])
                context.close(promise: nil)
                return
            }
            countedAddress = address
        }
        arm(context, seconds: limits.firstRequestSeconds)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        if let countedAddress { counter.close(countedAddress) }
        countedAddress = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            phase = .readingBody
            arm(context, seconds: limits.bodySeconds)
        case .body:
            break
        case .end:
            if answeredEarly {
                // Answered already: what follows is the wait for the next request.
                answeredEarly = false
                phase = .awaitingHead
                arm(context, seconds: limits.idleSeconds)
            } else {
                phase = .answering
                disarm()
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            switch phase {
            case .answering:
                phase = .awaitingHead
                arm(context, seconds: limits.idleSeconds)
            case .readingBody:
                // The body's own deadline keeps running until the body ends.
                answeredEarly = true
            case .awaitingHead:
                break
            }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, seconds: Int64) {
        disarm()
        let phase = self.phase
        deadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .seconds(seconds)) { [self] in
            self.deadline = nil
            logger.debug("connection closed: deadline passed", metadata: ["phase": "\(phase)"])
            context.close(promise: nil)
        }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}
