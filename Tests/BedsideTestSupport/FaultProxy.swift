import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A fault-injecting TCP proxy on loopback, for tests.
///
/// It listens on `127.0.0.1` at an ephemeral port and forwards raw bytes both ways to `127.0.0.1:upstreamPort`.
/// It never looks inside the stream (TLS passes through untouched), so a client speaking TLS to
/// `https://127.0.0.1:\(proxy.port)` still verifies the real server's certificate.
///
/// `fault` may be changed at any time. Byte counts in a fault (`afterBytes:` and the like) count from the moment the fault
/// was set, or from the connection's start if it opened later, so a pooled keep-alive connection behaves like a fresh one.
/// Setting `.refuse` or `.down` also closes every open connection (a server that went away keeps no connections), and
/// `.reset` resets every open connection at once; the other faults apply to open connections from their next chunk.
///
/// Threads: one acceptor thread, and per connection one pump thread for each direction. Every thread waits in `poll()`
/// on its socket and on its own wake pipe, so there are no busy loops, and `stop()` wakes and ends them all promptly.
public final class FaultProxy: @unchecked Sendable {
    /// What the proxy does to traffic.
    public enum Fault: Sendable, Equatable, CustomStringConvertible {
        /// Forward everything both ways.
        case none
        /// Accept each new connection and close it at once, like a port nothing serves properly.
        case refuse
        /// Stop listening: `connect()` fails with ECONNREFUSED, like a server that is down. The port stays the same and
        /// listening resumes when another fault is set.
        case down
        /// Wait this many milliseconds before forwarding each chunk, in both directions.
        case delay(_ milliseconds: Int)
        /// Reset (TCP RST) the client side of every connection at once, and every new connection on accept.
        case reset
        /// Forward this many bytes client→server, then reset both sides.
        case resetAfterRequestBytes(_ bytes: Int)
        /// Forward this many bytes server→client, then close both sides cleanly (FIN).
        case truncateResponse(afterBytes: Int)
        /// Forward this many bytes client→server, then read nothing more from the client; the connection stays open
        /// until the client goes away.
        case stallRequest(afterBytes: Int)
        /// Forward everything client→server and this many bytes server→client; the rest of the server's bytes are read
        /// and withheld (`bytesWithheldFromClient`), and the connection stays open, even after the server closes.
        case stallResponse(afterBytes: Int)
        /// A black hole: read from the client and discard, never forward, never answer. New connections are not
        /// connected upstream at all.
        case dropAll
        /// A hostile server: new connections go to 127.0.0.1:`port` instead of the real server (a `HostileServer`
        /// holding the real server's certificate), and open connections are closed, so a client's kept-alive
        /// connection cannot keep it on the real one. Everything is forwarded unchanged.
        case divert(toPort: Int)

        public var description: String {
            switch self {
            case .none: "none"
            case .refuse: "refuse"
            case .down: "down"
            case .delay(let milliseconds): "delay(\(milliseconds) ms)"
            case .reset: "reset"
            case .resetAfterRequestBytes(let bytes): "resetAfterRequestBytes(\(bytes))"
            case .truncateResponse(let bytes): "truncateResponse(afterBytes: \(bytes))"
            case .stallRequest(let bytes): "stallRequest(afterBytes: \(bytes))"
            case .stallResponse(let bytes): "stallResponse(afterBytes: \(bytes))"
            case .dropAll: "dropAll"
            case .divert(let port): "divert(toPort: \(port))"
            }
        }
    }

    /// Cumulative counts since the proxy started.
    public struct Counters: Sendable, Equatable, CustomStringConvertible {
        /// Connections accepted from clients (including those refused or reset at once).
        public var connectionsAccepted = 0
        /// Connections currently open (accepted and not yet closed).
        public var connectionsOpen = 0
        /// Upstream connects that failed (the client was then closed).
        public var upstreamConnectFailures = 0
        /// Bytes read from clients.
        public var bytesFromClient = 0
        /// Bytes written to the server.
        public var bytesToServer = 0
        /// Bytes read from the server.
        public var bytesFromServer = 0
        /// Bytes written to clients.
        public var bytesToClient = 0
        /// Bytes read from clients and discarded (`.dropAll`).
        public var bytesWithheldFromServer = 0
        /// Bytes the server sent that were read and not passed on to the client (`.stallResponse`, `.dropAll`).
        public var bytesWithheldFromClient = 0
        /// TCP resets sent to clients.
        public var clientResets = 0
        /// Connections held at their stall point while the other side had more to send: under `.stallRequest`, the client
        /// sent more than the bytes let through (those stay unread, so they are not in `bytesWithheldFromServer`); under
        /// `.stallResponse`, the server sent more. Counted once per connection per setting of the fault.
        public var connectionsStalled = 0

        public init() {}

        public var description: String {
            "accepted \(connectionsAccepted), open \(connectionsOpen), upstream failures \(upstreamConnectFailures), "
                + "client→ \(bytesFromClient) →server \(bytesToServer), server→ \(bytesFromServer) →client \(bytesToClient), "
                + "withheld from server \(bytesWithheldFromServer), withheld from client \(bytesWithheldFromClient), "
                + "client resets \(clientResets), stalled \(connectionsStalled)"
        }
    }

    /// A system call failed while setting the proxy up.
    public struct Failure: Error, CustomStringConvertible {
        public let operation: String
        public let code: Int32

        public var description: String { "FaultProxy: \(operation) failed: \(String(cString: strerror(code))) (errno \(code))" }
    }

    /// The proxy's port on 127.0.0.1.
    public let port: Int
    /// The server's port on 127.0.0.1.
    public let upstreamPort: Int

    private let core: Core

    /// Starts listening on 127.0.0.1 at an ephemeral port, forwarding to 127.0.0.1:`upstreamPort`.
    public init(upstreamPort: Int) throws {
        guard (1...65_535).contains(upstreamPort) else { throw Failure(operation: "upstream port \(upstreamPort)", code: EINVAL) }
        let (listener, port) = try Core.reserveListener()
        self.port = port
        self.upstreamPort = upstreamPort
        core = Core(listener: listener, port: port, upstreamPort: upstreamPort)
        core.start()
    }

    deinit { core.stop() }

    /// The current fault; set it at any time.
    public var fault: Fault {
        get { core.currentFault() }
        set { core.setFault(newValue) }
    }

    /// A snapshot of the counters.
    public var counters: Counters { core.snapshot() }
    public var connectionsAccepted: Int { counters.connectionsAccepted }
    public var bytesToServer: Int { counters.bytesToServer }
    public var bytesToClient: Int { counters.bytesToClient }
    public var bytesWithheldFromClient: Int { counters.bytesWithheldFromClient }

    /// Closes every open connection cleanly (FIN both ways), for instance to make a client open a new one.
    public func closeConnections() { core.closeConnections() }

    /// Blocks until `condition` holds for the counters or `timeout` passes; returns whether it held.
    /// The condition is checked at once and after every change to the counters.
    public func waitFor(_ condition: @escaping (Counters) -> Bool, timeout: Duration) -> Bool {
        core.waitFor(condition, timeout: timeout)
    }

    /// `waitFor` for async code: waits on a thread of its own, so it does not block the concurrency pool.
    public func waitUntil(timeout: Duration, _ condition: @escaping @Sendable (Counters) -> Bool) async -> Bool {
        let core = self.core
        return await offPool { core.waitFor(condition, timeout: timeout) }
    }

    /// Stops listening and closes every connection; waits (a bounded time) for the proxy's threads to end.
    /// Idempotent; also called on deinit.
    public func stop() { core.stop() }
}

// MARK: - Internals

private let chunkSize = 64 * 1024
private let pollReadHangUp = Int16(0x2000)  // POLLRDHUP, which Glibc's Swift module leaves out
private let loopback = in_addr_t(0x7F00_0001).bigEndian  // 127.0.0.1, the only address the proxy ever uses

/// `poll()`'s timeout for a positive duration: whole milliseconds, rounded up.
private func pollTimeout(_ duration: Duration) -> Int32 {
    let parts = duration.components
    let milliseconds = parts.seconds * 1000 + (parts.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: max(1, milliseconds))
}

/// A non-blocking pipe used to wake one thread out of `poll()`.
private struct WakePipe: Sendable {
    let readFD: Int32
    let writeFD: Int32

    static func make() -> WakePipe? {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        return WakePipe(readFD: fds[0], writeFD: fds[1])
    }

    func poke() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)  // a full pipe is already a pending wake-up
    }

    func drain() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(readFD, &bytes, bytes.count) > 0 {}
    }

    func close() {
        _ = Glibc.close(readFD)
        _ = Glibc.close(writeFD)
    }
}

/// How a connection ends.
private enum Ending: Equatable {
    /// FIN both ways (after a short drain so the close does not turn into a reset).
    case clean
    /// RST to the client, FIN to the server.
    case resetClient
    /// Let the server receive what was sent, then RST both.
    case resetBoth
    /// RST both at once (a peer failed).
    case abort
    /// The proxy is stopping: close both at once.
    case stop
}

private final class Connection: @unchecked Sendable {
    let id: Int
    let client: Int32
    var server: Int32 = -1
    let wakeToServer: WakePipe
    let wakeToClient: WakePipe
    var ending: Ending?
    var finalizing = false
    var pumpsAlive = 1
    var forwardedToServer = 0
    var forwardedToClient = 0
    var baseToServer = 0
    var baseToClient = 0
    /// Whether this connection is counted in `connectionsStalled` for the current fault.
    var stallCounted = false

    init(id: Int, client: Int32, wakeToServer: WakePipe, wakeToClient: WakePipe) {
        self.id = id
        self.client = client
        self.wakeToServer = wakeToServer
        self.wakeToClient = wakeToClient
    }

    func poke() {
        guard !finalizing else { return }
        wakeToServer.poke()
        wakeToClient.poke()
    }
}

/// What a pump does next.
private enum Step {
    case exit
    /// Read nothing; wait to be woken (or for the peer to leave). `watchInput`: note more input arriving, once.
    case idle(watchInput: Bool)
    /// Read up to `max` bytes, then forward them (after `delay` ms) or discard them.
    case read(max: Int, forward: Bool, delay: Int)
}

private final class Core: @unchecked Sendable {
    let port: Int
    let upstreamPort: Int
    let lock = NSCondition()  // guards everything below
    var listenFD: Int32
    var listening = true
    /// Bumped whenever the listener is shut down, re-listens or is replaced, so the acceptor can tell stale poll results.
    var listenerEpoch = 0
    var retiredListeners: [Int32] = []
    let acceptorWake: WakePipe
    var acceptorDone = false
    var fault: FaultProxy.Fault = .none
    var counters = FaultProxy.Counters()
    var version = 0
    var stopped = false
    var connections: [Int: Connection] = [:]
    var nextID = 0
    var liveThreads = 0

    init(listener: Int32, port: Int, upstreamPort: Int) {
        listenFD = listener
        self.port = port
        self.upstreamPort = upstreamPort
        acceptorWake = WakePipe.make() ?? WakePipe(readFD: -1, writeFD: -1)
    }

    func start() {
        lock.lock()
        spawnLocked { [self] in acceptLoop() }
        lock.unlock()
    }

    // MARK: Sockets

    static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = loopback
        return address
    }

    static func boundPort(_ fd: Int32) -> Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return result == 0 ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }

    static func tcpSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FaultProxy.Failure(operation: "socket", code: errno) }
        return fd
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A listening socket on 127.0.0.1:`port` (0 for ephemeral), non-blocking so `accept()` never blocks.
    static func makeListener(port: Int) throws -> Int32 {
        let fd = try tcpSocket()
        setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        var address = address(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            _ = close(fd)
            throw FaultProxy.Failure(operation: "bind 127.0.0.1:\(port)", code: code)
        }
        guard listen(fd, 128) == 0 else {
            let code = errno
            _ = close(fd)
            throw FaultProxy.Failure(operation: "listen", code: code)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    /// A listener on an ephemeral port, bound to that port explicitly: Linux releases an automatically chosen port when
    /// a listener is shut down, but keeps an explicitly bound one, and `.down` relies on keeping it.
    static func reserveListener() throws -> (Int32, Int) {
        var lastError: any Error = FaultProxy.Failure(operation: "reserve a port", code: EADDRINUSE)
        for _ in 0..<10 {
            let probe = try makeListener(port: 0)
            let port = boundPort(probe)
            _ = close(probe)
            guard let port else { continue }
            do {
                return (try makeListener(port: port), port)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    static func resetAndClose(_ fd: Int32) {
        guard fd >= 0 else { return }
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        _ = close(fd)
    }

    /// Waits (bounded) until the peer's kernel has acknowledged everything sent on `fd`.
    static func waitUntilSent(_ fd: Int32, milliseconds: Int) {
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while ContinuousClock.now < deadline {
            var queued: Int32 = 0
            guard ioctl(fd, UInt(TIOCOUTQ), &queued) == 0, queued > 0 else { return }
            _ = poll(nil, 0, 2)
        }
    }

    /// Sends FIN on each socket, reads and discards until each peer closes (at most `milliseconds`), then closes them.
    /// Draining first keeps unread input from turning the close into a reset.
    static func closeCleanly(_ fds: [Int32], milliseconds: Int) {
        var open = fds.filter { $0 >= 0 }
        for fd in open { _ = shutdown(fd, Int32(SHUT_WR)) }
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        while !open.isEmpty {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { break }
            var polls = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&polls, nfds_t(polls.count), pollTimeout(remaining))
            if ready < 0 && errno != EINTR { break }
            var finished: Set<Int32> = []
            for entry in polls where entry.revents != 0 {
                let count = recv(entry.fd, &scratch, scratch.count, Int32(MSG_DONTWAIT))
                if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    finished.insert(entry.fd)
                }
            }
            open.removeAll { finished.contains($0) }
        }
        for fd in fds where fd >= 0 { _ = close(fd) }
    }

    // MARK: Threads

    /// Starts a thread counted in `liveThreads`. Call with the lock held.
    func spawnLocked(_ body: @escaping @Sendable () -> Void) {
        liveThreads += 1
        Thread.detachNewThread { [self] in
            body()
            lock.lock()
            liveThreads -= 1
            lock.broadcast()
            lock.unlock()
        }
    }

    func changedLocked() {
        version &+= 1
        lock.broadcast()
    }

    // MARK: Public operations

    func currentFault() -> FaultProxy.Fault {
        lock.lock()
        defer { lock.unlock() }
        return fault
    }

    func snapshot() -> FaultProxy.Counters {
        lock.lock()
        defer { lock.unlock() }
        return counters
    }

    func setFault(_ newFault: FaultProxy.Fault) {
        lock.lock()
        defer { lock.unlock() }
        fault = newFault
        for connection in connections.values {
            // Counts in the new fault start now.
            connection.baseToServer = connection.forwardedToServer
            connection.baseToClient = connection.forwardedToClient
            connection.stallCounted = false
            switch newFault {
            case .refuse, .down, .divert: endLocked(connection, .clean)
            case .reset: endLocked(connection, .resetClient)
            default: connection.poke()
            }
        }
        guard !stopped else { return }
        if newFault == .down {
            if listening {
                _ = shutdown(listenFD, Int32(SHUT_RDWR))  // refuses new connects from now on; the fd stays valid
                listening = false
                listenerEpoch += 1
            }
        } else if !listening {
            relistenLocked()
        }
        acceptorWake.poke()
        changedLocked()
    }

    func closeConnections() {
        lock.lock()
        defer { lock.unlock() }
        for connection in connections.values { endLocked(connection, .clean) }
    }

    func waitFor(_ condition: (FaultProxy.Counters) -> Bool, timeout: Duration) -> Bool {
        let parts = timeout.components
        let deadline = Date(timeIntervalSinceNow: max(0, Double(parts.seconds) + Double(parts.attoseconds) / 1e18))
        lock.lock()
        while true {
            let snapshot = counters
            let seen = version
            lock.unlock()
            if condition(snapshot) { return true }
            lock.lock()
            while version == seen {
                if !lock.wait(until: deadline) {
                    let last = counters
                    lock.unlock()
                    return condition(last)
                }
            }
        }
    }

    func stop() {
        lock.lock()
        defer { lock.unlock() }
        if !stopped {
            stopped = true
            if listenFD >= 0 && listening { _ = shutdown(listenFD, Int32(SHUT_RDWR)) }
            listening = false
            if !acceptorDone { acceptorWake.poke() }
            for connection in connections.values {
                connection.ending = .stop
                if !connection.finalizing {
                    // Belt and braces: the pumps wait in poll() with their wake pipes, but this wakes anything else.
                    _ = shutdown(connection.client, Int32(SHUT_RDWR))
                    if connection.server >= 0 { _ = shutdown(connection.server, Int32(SHUT_RDWR)) }
                }
                connection.poke()
            }
            changedLocked()
        }
        let deadline = Date(timeIntervalSinceNow: 3)
        while liveThreads > 0 {
            if !lock.wait(until: deadline) { break }
        }
    }

    // MARK: Listener

    /// Listens again after `.down`, on the same port. Call with the lock held.
    func relistenLocked() {
        listenerEpoch += 1
        if listenFD >= 0 {
            if listen(listenFD, 128) == 0, Core.boundPort(listenFD) == port {
                listening = true
                return
            }
            _ = shutdown(listenFD, Int32(SHUT_RDWR))
            retiredListeners.append(listenFD)  // the acceptor closes it once it is out of poll()
            listenFD = -1
        }
        if let fd = try? Core.makeListener(port: port) {
            listenFD = fd
            listening = true
        }
    }

    func acceptLoop() {
        while true {
            lock.lock()
            for fd in retiredListeners { _ = close(fd) }
            retiredListeners.removeAll()
            if stopped {
                if listenFD >= 0 { _ = close(listenFD) }
                listenFD = -1
                acceptorDone = true
                acceptorWake.close()
                lock.unlock()
                return
            }
            if !listening && fault != .down { relistenLocked() }
            let fd = listening ? listenFD : -1
            let epoch = listenerEpoch
            // Only a failed re-listen leaves us not listening without `.down`; retry it now and then.
            let timeout: Int32 = (fd < 0 && fault != .down) ? 50 : -1
            lock.unlock()

            var polls = [pollfd(fd: acceptorWake.readFD, events: Int16(POLLIN), revents: 0)]
            if fd >= 0 { polls.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            if poll(&polls, nfds_t(polls.count), timeout) < 0 { continue }
            if polls[0].revents != 0 { acceptorWake.drain() }
            guard fd >= 0, polls[1].revents != 0 else { continue }
            if polls[1].revents & Int16(POLLIN) == 0 {
                // The listener broke, or was shut down for `.down` (and perhaps listens again already); replace it only
                // if nothing changed it since we looked.
                lock.lock()
                if listenerEpoch == epoch && listenFD == fd && listening {
                    _ = shutdown(fd, Int32(SHUT_RDWR))
                    listening = false
                    listenerEpoch += 1
                    retiredListeners.append(fd)
                    listenFD = -1
                }
                lock.unlock()
                continue
            }
            let client = accept(fd, nil, nil)
            if client >= 0 {
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                admit(client)
            } else if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                var wake = [pollfd(fd: acceptorWake.readFD, events: Int16(POLLIN), revents: 0)]
                _ = poll(&wake, 1, 50)
            }
        }
    }

    func admit(_ client: Int32) {
        Core.setOption(client, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        lock.lock()
        defer { lock.unlock() }
        counters.connectionsAccepted += 1
        defer { changedLocked() }
        switch fault {
        case .refuse, .down:
            _ = close(client)
            return
        case .reset:
            Core.resetAndClose(client)
            counters.clientResets += 1
            return
        default:
            break
        }
        guard !stopped, let toServer = WakePipe.make() else { _ = close(client); return }
        guard let toClient = WakePipe.make() else { toServer.close(); _ = close(client); return }
        let connection = Connection(id: nextID, client: client, wakeToServer: toServer, wakeToClient: toClient)
        nextID += 1
        connections[connection.id] = connection
        counters.connectionsOpen += 1
        if fault == .dropAll {
            spawnLocked { [self] in pump(connection, toServer: true) }
        } else {
            spawnLocked { [self] in connectUpstreamAndPump(connection) }
        }
    }

    // MARK: Connections

    /// Ends a connection the given way: its pumps wake and exit, and the last one closes it. Call with the lock held.
    func endLocked(_ connection: Connection, _ ending: Ending) {
        if connection.ending == nil || ending == .stop { connection.ending = ending }
        connection.poke()
    }

    func connectUpstreamAndPump(_ connection: Connection) {
        var connected = false
        if let fd = try? Core.tcpSocket() {
            lock.lock()
            connection.server = fd  // registered first, so stop() can interrupt the connect
            let go = connection.ending == nil
            var port = upstreamPort
            if case .divert(let hostile) = fault { port = hostile }
            lock.unlock()
            if go { connected = connect(fd, connection, port: port) }
        }
        lock.lock()
        if connected {
            if connection.ending == nil {
                connection.pumpsAlive += 1
                spawnLocked { [self] in pump(connection, toServer: false) }
            }
        } else {
            if connection.ending == nil { counters.upstreamConnectFailures += 1 }
            endLocked(connection, .clean)
        }
        lock.unlock()
        pump(connection, toServer: true)
    }

    /// Connects `fd` to 127.0.0.1:`port`, giving up if the connection ends meanwhile.
    func connect(_ fd: Int32, _ connection: Connection, port: Int) -> Bool {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)  // so that a slow connect can be abandoned
        defer { _ = fcntl(fd, F_SETFL, flags) }
        var address = Core.address(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var connected = result == 0
        if !connected && (errno == EINPROGRESS || errno == EINTR) {
            while true {
                var polls = [
                    pollfd(fd: fd, events: Int16(POLLOUT), revents: 0),
                    pollfd(fd: connection.wakeToServer.readFD, events: Int16(POLLIN), revents: 0),
                ]
                if poll(&polls, 2, -1) < 0 { continue }
                if polls[0].revents != 0 {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    connected = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0
                    break
                }
                connection.wakeToServer.drain()
                lock.lock()
                let ended = stopped || connection.ending != nil
                lock.unlock()
                if ended { break }
            }
        }
        if connected { Core.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1) }
        return connected
    }

    /// Decides what a pump does next under the current fault. Call with the lock held.
    func stepLocked(_ connection: Connection, toServer: Bool) -> Step {
        if stopped || connection.ending != nil { return .exit }
        let sent = toServer
            ? connection.forwardedToServer - connection.baseToServer
            : connection.forwardedToClient - connection.baseToClient
        let forward = Step.read(max: chunkSize, forward: true, delay: 0)
        let discard = Step.read(max: chunkSize, forward: false, delay: 0)
        if toServer && connection.server < 0 { return discard }  // accepted under .dropAll: a black hole for good
        switch fault {
        case .none, .divert:
            return forward
        case .refuse, .down:
            endLocked(connection, .clean)
            return .exit
        case .reset:
            endLocked(connection, .resetClient)
            return .exit
        case .delay(let milliseconds):
            return .read(max: chunkSize, forward: true, delay: max(0, milliseconds))
        case .dropAll:
            return discard
        case .resetAfterRequestBytes(let limit):
            guard toServer else { return forward }
            if sent >= limit {
                endLocked(connection, .resetBoth)
                return .exit
            }
            return .read(max: min(chunkSize, limit - sent), forward: true, delay: 0)
        case .stallRequest(let limit):
            guard toServer else { return forward }
            if sent >= limit { return .idle(watchInput: !connection.stallCounted) }
            return .read(max: min(chunkSize, limit - sent), forward: true, delay: 0)
        case .truncateResponse(let limit):
            guard !toServer else { return forward }
            if sent >= limit {
                endLocked(connection, .clean)
                return .exit
            }
            return .read(max: min(chunkSize, limit - sent), forward: true, delay: 0)
        case .stallResponse(let limit):
            guard !toServer else { return forward }
            return sent >= limit ? discard : .read(max: min(chunkSize, limit - sent), forward: true, delay: 0)
        }
    }

    func pump(_ connection: Connection, toServer: Bool) {
        defer { pumpExited(connection) }
        lock.lock()
        let source = toServer ? connection.client : connection.server
        let destination = toServer ? connection.server : connection.client
        let wake = toServer ? connection.wakeToServer : connection.wakeToClient
        lock.unlock()
        var buffer = [UInt8](repeating: 0, count: chunkSize)

        while true {
            lock.lock()
            let step = stepLocked(connection, toServer: toServer)
            lock.unlock()

            switch step {
            case .exit:
                return
            case .idle(let watchInput):
                // Reads nothing, but notices the peer going away (FIN or RST), which ends the connection, and (once)
                // more input arriving, which counts the connection as stalled.
                var polls = [
                    pollfd(fd: source, events: pollReadHangUp | (watchInput ? Int16(POLLIN) : 0), revents: 0),
                    pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0),
                ]
                if poll(&polls, 2, -1) < 0 { continue }
                if polls[1].revents != 0 { wake.drain() }
                let revents = polls[0].revents
                if revents & (pollReadHangUp | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                    lock.lock()
                    endLocked(connection, .clean)
                    lock.unlock()
                } else if revents & Int16(POLLIN) != 0 {
                    lock.lock()
                    noteStallLocked(connection)
                    lock.unlock()
                }
            case .read(let limit, let forward, let delay):
                var polls = [
                    pollfd(fd: source, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0),
                ]
                if poll(&polls, 2, -1) < 0 { continue }
                if polls[1].revents != 0 {
                    wake.drain()
                    continue  // something changed: decide again
                }
                let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, limit, Int32(MSG_DONTWAIT)) }
                if count < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                    lock.lock()
                    endLocked(connection, .abort)
                    lock.unlock()
                    return
                }
                if count == 0 {
                    sourceClosed(connection, toServer: toServer, forwarding: forward, destination: destination)
                    return
                }
                lock.lock()
                if toServer {
                    counters.bytesFromClient += count
                    if !forward { counters.bytesWithheldFromServer += count }
                } else {
                    counters.bytesFromServer += count
                    if !forward {
                        counters.bytesWithheldFromClient += count
                        if case .stallResponse = fault { noteStallLocked(connection) }
                    }
                }
                changedLocked()
                lock.unlock()
                guard forward else { continue }
                if delay > 0 && !sleep(milliseconds: delay, connection, wake) { return }
                if !send(&buffer, count: count, to: destination, connection, toServer: toServer, wake) { return }
            }
        }
    }

    /// Counts `connection` in `connectionsStalled`, once per fault setting. Call with the lock held.
    func noteStallLocked(_ connection: Connection) {
        guard !connection.stallCounted else { return }
        connection.stallCounted = true
        counters.connectionsStalled += 1
        changedLocked()
    }

    /// The source sent FIN: pass it on when forwarding; otherwise a departed client ends the connection and a departed
    /// server leaves the client hanging.
    func sourceClosed(_ connection: Connection, toServer: Bool, forwarding: Bool, destination: Int32) {
        if forwarding {
            _ = shutdown(destination, Int32(SHUT_WR))
        } else if toServer {
            lock.lock()
            endLocked(connection, .clean)
            lock.unlock()
        }
    }

    /// Sleeps, waking early only to exit. Returns false if the connection ended meanwhile.
    func sleep(milliseconds: Int, _ connection: Connection, _ wake: WakePipe) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while true {
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return true }
            var polls = [pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0)]
            if poll(&polls, 1, pollTimeout(remaining)) > 0 {
                wake.drain()
                lock.lock()
                let ended = stopped || connection.ending != nil
                lock.unlock()
                if ended { return false }
            }
        }
    }

    /// Writes all `count` bytes, counting them as they go. Returns false if the connection ended or the write failed.
    func send(
        _ buffer: inout [UInt8], count: Int, to destination: Int32, _ connection: Connection, toServer: Bool, _ wake: WakePipe
    ) -> Bool {
        var offset = 0
        while offset < count {
            let written = buffer.withUnsafeBytes {
                Glibc.send(destination, $0.baseAddress! + offset, count - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if written > 0 {
                offset += written
                lock.lock()
                if toServer {
                    connection.forwardedToServer += written
                    counters.bytesToServer += written
                } else {
                    connection.forwardedToClient += written
                    counters.bytesToClient += written
                }
                changedLocked()
                lock.unlock()
                continue
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                var polls = [
                    pollfd(fd: destination, events: Int16(POLLOUT), revents: 0),
                    pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0),
                ]
                _ = poll(&polls, 2, -1)
                if polls[1].revents != 0 {
                    wake.drain()
                    lock.lock()
                    let ended = stopped || connection.ending != nil
                    lock.unlock()
                    if ended { return false }
                }
                continue
            }
            lock.lock()
            endLocked(connection, .abort)
            lock.unlock()
            return false
        }
        return true
    }

    func pumpExited(_ connection: Connection) {
        lock.lock()
        connection.pumpsAlive -= 1
        guard connection.pumpsAlive == 0 else {
            lock.unlock()
            return
        }
        // The last pump out closes the connection.
        let ending = stopped ? .stop : (connection.ending ?? .clean)
        connection.finalizing = true
        let client = connection.client
        let server = connection.server
        lock.unlock()

        var clientReset = false
        switch ending {
        case .clean:
            Core.closeCleanly([client, server], milliseconds: 200)
        case .resetClient:
            Core.resetAndClose(client)
            clientReset = true
            Core.closeCleanly([server], milliseconds: 200)
        case .resetBoth:
            if server >= 0 { Core.waitUntilSent(server, milliseconds: 500) }
            Core.resetAndClose(server)
            Core.resetAndClose(client)
            clientReset = true
        case .abort:
            Core.resetAndClose(server)
            Core.resetAndClose(client)
            clientReset = true
        case .stop:
            _ = close(client)
            if server >= 0 { _ = close(server) }
        }

        lock.lock()
        connection.wakeToServer.close()
        connection.wakeToClient.close()
        connections[connection.id] = nil
        counters.connectionsOpen -= 1
        if clientReset { counters.clientResets += 1 }
        changedLocked()
        lock.unlock()
    }
}
