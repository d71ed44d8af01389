import BedsideTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// The proxy's own tests, against plain TCP servers started here on 127.0.0.1 (no TLS: the proxy never looks inside).

/// A plain TCP server on 127.0.0.1 at an ephemeral port; each connection runs `handler` on a thread of its own.
private final class FaultProxyTestServer: @unchecked Sendable {
    enum Ending: Equatable {
        case eof
        case error(Int32)
    }

    let port: Int
    private let listener: Int32
    private let condition = NSCondition()
    private var open: Set<Int32> = []
    private var stopped = false
    private var acceptedCount = 0
    private var receivedCount = 0
    private var endingList: [Ending] = []

    init(handler: @escaping @Sendable (FaultProxyTestServer, Int32) -> Void) throws {
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listenFD >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var one: Int32 = 1
        _ = setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = FaultProxyTestClient.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listenFD, 64) == 0 else {
            let code = errno
            _ = close(listenFD)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = listenFD
        Thread.detachNewThread { [self] in
            while true {
                let fd = accept(listenFD, nil, nil)
                if fd < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    break  // shut down by stop()
                }
                condition.lock()
                if stopped {
                    condition.unlock()
                    _ = close(fd)
                    break
                }
                acceptedCount += 1
                open.insert(fd)
                condition.broadcast()
                condition.unlock()
                Thread.detachNewThread { [self] in
                    handler(self, fd)
                    condition.lock()
                    open.remove(fd)
                    _ = close(fd)
                    condition.unlock()
                }
            }
            _ = close(listenFD)
        }
    }

    var accepted: Int { locked { acceptedCount } }
    var received: Int { locked { receivedCount } }
    var endings: [Ending] { locked { endingList } }

    func noteReceived(_ count: Int) { locked { receivedCount += count } }
    func noteEnding(_ ending: Ending) { locked { endingList.append(ending) } }

    /// Waits until `predicate` holds for (accepted, received, endings), or `timeout` passes.
    func wait(timeout: Duration = .seconds(5), until predicate: (Int, Int, [Ending]) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(acceptedCount, receivedCount, endingList) {
            if !condition.wait(until: deadline) { return predicate(acceptedCount, receivedCount, endingList) }
        }
        return true
    }

    func stop() {
        locked {
            guard !stopped else { return }
            stopped = true
            _ = shutdown(listener, Int32(SHUT_RDWR))
            for fd in open { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return body()
    }

    /// Echoes everything back until the client closes.
    static func echo() throws -> FaultProxyTestServer {
        try FaultProxyTestServer { server, fd in
            var buffer = [UInt8](repeating: 0, count: 32 * 1024)
            while true {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 {
                    server.noteEnding(count == 0 ? .eof : .error(errno))
                    return
                }
                server.noteReceived(count)
                guard FaultProxyTestClient.sendAll(fd, Array(buffer[0..<count])) else { return }
            }
        }
    }

    /// HTTP-ish: reads a request of exactly `requestBytes`, answers with `response`, then reads until the client closes.
    static func answering(requestBytes: Int, response: [UInt8]) throws -> FaultProxyTestServer {
        try FaultProxyTestServer { server, fd in
            var buffer = [UInt8](repeating: 0, count: 32 * 1024)
            var total = 0
            var answered = false
            while true {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 {
                    server.noteEnding(count == 0 ? .eof : .error(errno))
                    return
                }
                server.noteReceived(count)
                total += count
                if total >= requestBytes && !answered {
                    answered = true
                    guard FaultProxyTestClient.sendAll(fd, response) else { return }
                }
            }
        }
    }
}

/// Blocking client sockets to 127.0.0.1.
private enum FaultProxyTestClient {
    enum End: Equatable {
        case complete
        case eof
        case error(Int32)
        case timeout
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        return address
    }

    /// A connected socket, or the errno of the failed connect.
    static func connect(port: Int) -> Result<Int32, POSIXError> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(POSIXError(.init(rawValue: errno) ?? .EIO)) }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            _ = close(fd)
            return .failure(POSIXError(.init(rawValue: code) ?? .EIO))
        }
        return .success(fd)
    }

    static func connected(port: Int) throws -> Int32 { try connect(port: port).get() }

    @discardableResult
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    /// Reads until `count` bytes arrived, the peer closed or failed, or `timeout` passed.
    static func receive(_ fd: Int32, count: Int, timeout: Duration) -> (bytes: [UInt8], end: End) {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count < count {
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return (bytes, .timeout) }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            let ready = poll(&entry, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 { continue }
            let received = recv(fd, &buffer, min(buffer.count, count - bytes.count), Int32(MSG_DONTWAIT))
            if received > 0 {
                bytes += buffer[0..<received]
            } else if received == 0 {
                return (bytes, .eof)
            } else if errno != EAGAIN && errno != EINTR {
                return (bytes, .error(errno))
            }
        }
        return (bytes, .complete)
    }

    static func payload(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }
}

private func faultProxyMilliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

@Suite("FaultProxy")
struct FaultProxyTests {
    @Test("passes 1 MB through both ways unchanged")
    func passThrough() throws {
        let server = try FaultProxyTestServer.echo()
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        #expect(proxy.port != server.port && proxy.port > 0)

        let payload = FaultProxyTestClient.payload(1 << 20)
        let fd = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(fd) }
        let sent = NSCondition()
        nonisolated(unsafe) var sendResult: Bool?
        Thread.detachNewThread {
            let ok = FaultProxyTestClient.sendAll(fd, payload)
            sent.lock()
            sendResult = ok
            sent.broadcast()
            sent.unlock()
        }
        let (echoed, end) = FaultProxyTestClient.receive(fd, count: payload.count, timeout: .seconds(30))
        sent.lock()
        while sendResult == nil { _ = sent.wait(until: Date(timeIntervalSinceNow: 10)) }
        let sendOK = sendResult
        sent.unlock()

        #expect(sendOK == true)
        #expect(end == .complete)
        #expect(echoed.count == payload.count)
        let firstDifference = (0..<min(echoed.count, payload.count)).first { echoed[$0] != payload[$0] }
        #expect(firstDifference == nil, "the echo differs from the payload at byte \(firstDifference ?? -1)")
        #expect(server.received == payload.count)
        let counters = proxy.counters
        #expect(counters.connectionsAccepted == 1)
        #expect(counters.bytesToServer == payload.count)
        #expect(counters.bytesToClient == payload.count)
        #expect(counters.bytesWithheldFromClient == 0)
    }

    @Test(".down refuses connect() on the same port until lifted, and closes open connections")
    func down() throws {
        let server = try FaultProxyTestServer.echo()
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }

        let live = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(live) }
        FaultProxyTestClient.sendAll(live, Array("hello".utf8))
        #expect(FaultProxyTestClient.receive(live, count: 5, timeout: .seconds(5)).end == .complete)

        for _ in 0..<2 {  // twice: the first re-listen and a later one must both keep the port
            proxy.fault = .down
            switch FaultProxyTestClient.connect(port: proxy.port) {
            case .success(let fd):
                close(fd)
                Issue.record("connect succeeded while down")
            case .failure(let error):
                #expect(error.code == .ECONNREFUSED)
            }

            proxy.fault = .none
            let fd = try FaultProxyTestClient.connected(port: proxy.port)
            defer { close(fd) }
            FaultProxyTestClient.sendAll(fd, Array("again".utf8))
            let (bytes, end) = FaultProxyTestClient.receive(fd, count: 5, timeout: .seconds(5))
            #expect(end == .complete)
            #expect(bytes == Array("again".utf8))
        }
        // The connection that was open when the proxy went down was closed.
        let end = FaultProxyTestClient.receive(live, count: 1, timeout: .seconds(5)).end
        #expect(end == .eof || end == .error(ECONNRESET))
        #expect(proxy.connectionsAccepted == 3)
    }

    @Test(".refuse accepts and closes without reaching the server")
    func refuse() throws {
        let server = try FaultProxyTestServer.echo()
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.fault = .refuse

        let fd = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(fd) }
        let (bytes, end) = FaultProxyTestClient.receive(fd, count: 1, timeout: .seconds(5))
        #expect(bytes.isEmpty)
        #expect(end == .eof || end == .error(ECONNRESET))
        #expect(proxy.connectionsAccepted == 1)
        #expect(server.accepted == 0)
    }

    @Test(".reset resets open connections at once, and new ones on accept")
    func reset() throws {
        let server = try FaultProxyTestServer.echo()
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }

        let live = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(live) }
        FaultProxyTestClient.sendAll(live, Array("ping".utf8))
        #expect(FaultProxyTestClient.receive(live, count: 4, timeout: .seconds(5)).end == .complete)

        proxy.fault = .reset
        #expect(FaultProxyTestClient.receive(live, count: 1, timeout: .seconds(5)).end == .error(ECONNRESET))

        let fresh = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(fresh) }
        let (bytes, end) = FaultProxyTestClient.receive(fresh, count: 1, timeout: .seconds(5))
        #expect(bytes.isEmpty)
        #expect(end == .error(ECONNRESET))
        let held1 = proxy.waitFor({ $0.clientResets == 2 }, timeout: .seconds(5))
        #expect(held1)
        #expect(server.accepted == 1)
    }

    @Test(".resetAfterRequestBytes passes exactly n bytes to the server, then resets both sides")
    func resetAfterRequestBytes() throws {
        let server = try FaultProxyTestServer.answering(requestBytes: 5000, response: Array("never".utf8))
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.fault = .resetAfterRequestBytes(1000)

        let fd = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(fd) }
        FaultProxyTestClient.sendAll(fd, FaultProxyTestClient.payload(5000))
        let (bytes, end) = FaultProxyTestClient.receive(fd, count: 1, timeout: .seconds(5))
        #expect(bytes.isEmpty)
        #expect(end == .error(ECONNRESET))
        let held2 = server.wait { _, _, endings in !endings.isEmpty }
        #expect(held2)
        #expect(server.received == 1000)
        #expect(server.endings == [.error(ECONNRESET)])
        #expect(proxy.bytesToServer == 1000)
    }

    @Test(".truncateResponse delivers exactly n bytes, then a clean close")
    func truncateResponse() throws {
        let response = FaultProxyTestClient.payload(10_000, seed: 7)
        let server = try FaultProxyTestServer.answering(requestBytes: 100, response: response)
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.fault = .truncateResponse(afterBytes: 1000)

        let fd = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(fd) }
        FaultProxyTestClient.sendAll(fd, FaultProxyTestClient.payload(100))
        let (bytes, end) = FaultProxyTestClient.receive(fd, count: response.count, timeout: .seconds(5))
        #expect(end == .eof)
        #expect(bytes.count == 1000)
        #expect(bytes == Array(response[0..<1000]))
        #expect(server.received == 100)
        #expect(proxy.bytesToClient == 1000)
    }

    @Test(".stallResponse delivers n bytes, then nothing, though the server got the whole request")
    func stallResponse() async throws {
        let response = FaultProxyTestClient.payload(10_000, seed: 11)
        let server = try FaultProxyTestServer.answering(requestBytes: 5000, response: response)
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.fault = .stallResponse(afterBytes: 1000)

        let fd = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(fd) }
        FaultProxyTestClient.sendAll(fd, FaultProxyTestClient.payload(5000))
        let first = FaultProxyTestClient.receive(fd, count: 1000, timeout: .seconds(5))
        #expect(first.end == .complete)
        #expect(first.bytes == Array(response[0..<1000]))

        let withheld = await proxy.waitUntil(timeout: .seconds(5)) { $0.bytesWithheldFromClient > 0 }
        #expect(withheld)
        #expect(proxy.counters.connectionsStalled == 1)
        let rest = FaultProxyTestClient.receive(fd, count: 1, timeout: .milliseconds(500))
        #expect(rest.end == .timeout)
        #expect(rest.bytes.isEmpty)
        #expect(server.received == 5000)
        #expect(proxy.bytesToServer == 5000)
        #expect(proxy.bytesToClient == 1000)
        let held3 = proxy.waitFor({ $0.bytesWithheldFromClient == 9000 }, timeout: .seconds(5))
        #expect(held3)
    }

    @Test(".stallRequest passes n bytes to the server, then holds the connection open")
    func stallRequest() throws {
        let server = try FaultProxyTestServer.answering(requestBytes: 5000, response: Array("answer".utf8))
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.fault = .stallRequest(afterBytes: 1000)

        let fd = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(fd) }
        FaultProxyTestClient.sendAll(fd, FaultProxyTestClient.payload(5000))
        let held4 = server.wait { _, received, _ in received >= 1000 }
        #expect(held4)
        let (bytes, end) = FaultProxyTestClient.receive(fd, count: 1, timeout: .milliseconds(500))
        #expect(end == .timeout)
        #expect(bytes.isEmpty)
        #expect(server.received == 1000)
        #expect(server.endings.isEmpty)
        #expect(proxy.counters.connectionsOpen == 1)
        let stalled = proxy.waitFor({ $0.connectionsStalled == 1 }, timeout: .seconds(5))
        #expect(stalled, "the client's further bytes are held back (unread): \(proxy.counters)")
        #expect(proxy.counters.bytesWithheldFromServer == 0)  // unread, so not counted as withheld

        // Lifting the fault lets the rest through on the same connection.
        proxy.fault = .none
        let answer = FaultProxyTestClient.receive(fd, count: 6, timeout: .seconds(5))
        #expect(answer.end == .complete)
        #expect(answer.bytes == Array("answer".utf8))
        #expect(server.received == 5000)
    }

    @Test("a client that gives up on a stalled request is let go")
    func stallRequestClientLeaves() throws {
        let server = try FaultProxyTestServer.answering(requestBytes: 5000, response: Array("answer".utf8))
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.fault = .stallRequest(afterBytes: 1000)

        let fd = try FaultProxyTestClient.connected(port: proxy.port)
        FaultProxyTestClient.sendAll(fd, FaultProxyTestClient.payload(5000))
        let forwarded = server.wait { _, received, _ in received >= 1000 }
        #expect(forwarded)
        close(fd)
        let closed = proxy.waitFor({ $0.connectionsOpen == 0 }, timeout: .seconds(5))
        #expect(closed)
        let serverSawClose = server.wait { _, _, endings in !endings.isEmpty }
        #expect(serverSawClose)
        #expect(server.received == 1000)
    }

    @Test("closeConnections() closes open connections, and new ones still work")
    func closeConnections() throws {
        let server = try FaultProxyTestServer.echo()
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }

        let first = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(first) }
        FaultProxyTestClient.sendAll(first, Array("one".utf8))
        #expect(FaultProxyTestClient.receive(first, count: 3, timeout: .seconds(5)).end == .complete)
        proxy.closeConnections()
        #expect(FaultProxyTestClient.receive(first, count: 1, timeout: .seconds(5)).end == .eof)

        let second = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(second) }
        FaultProxyTestClient.sendAll(second, Array("two".utf8))
        let (bytes, end) = FaultProxyTestClient.receive(second, count: 3, timeout: .seconds(5))
        #expect(end == .complete)
        #expect(bytes == Array("two".utf8))
    }

    @Test(".divert(toPort:) closes open connections and sends new ones to the other server; .none sends them back")
    func divert() throws {
        let real = try FaultProxyTestServer.echo()
        defer { real.stop() }
        let hostile = try FaultProxyTestServer.answering(requestBytes: 3, response: Array("evil".utf8))
        defer { hostile.stop() }
        let proxy = try FaultProxy(upstreamPort: real.port)
        defer { proxy.stop() }

        let before = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(before) }
        FaultProxyTestClient.sendAll(before, Array("one".utf8))
        #expect(FaultProxyTestClient.receive(before, count: 3, timeout: .seconds(5)).bytes == Array("one".utf8))

        proxy.fault = .divert(toPort: hostile.port)
        #expect(FaultProxyTestClient.receive(before, count: 1, timeout: .seconds(5)).end == .eof, "a kept-alive connection is closed")
        let diverted = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(diverted) }
        FaultProxyTestClient.sendAll(diverted, Array("two".utf8))
        #expect(FaultProxyTestClient.receive(diverted, count: 4, timeout: .seconds(5)).bytes == Array("evil".utf8))
        #expect(hostile.accepted == 1)

        proxy.fault = .none
        let back = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(back) }
        FaultProxyTestClient.sendAll(back, Array("six".utf8))
        #expect(FaultProxyTestClient.receive(back, count: 3, timeout: .seconds(5)).bytes == Array("six".utf8))
        #expect(real.accepted == 2)
    }

    @Test(".dropAll reads and never forwards or answers")
    func dropAll() throws {
        let server = try FaultProxyTestServer.echo()
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }

        // A connection already open goes dark both ways too.
        let live = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(live) }
        FaultProxyTestClient.sendAll(live, Array("ping".utf8))
        #expect(FaultProxyTestClient.receive(live, count: 4, timeout: .seconds(5)).end == .complete)
        proxy.fault = .dropAll
        FaultProxyTestClient.sendAll(live, FaultProxyTestClient.payload(200))
        let swallowed = proxy.waitFor({ $0.bytesWithheldFromServer == 200 }, timeout: .seconds(5))
        #expect(swallowed)
        #expect(FaultProxyTestClient.receive(live, count: 1, timeout: .milliseconds(300)).end == .timeout)
        #expect(server.received == 4)
        #expect(proxy.bytesToServer == 4)

        let fd = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(fd) }
        FaultProxyTestClient.sendAll(fd, FaultProxyTestClient.payload(300))
        let held5 = proxy.waitFor({ $0.bytesWithheldFromServer == 500 }, timeout: .seconds(5))
        #expect(held5)
        let (bytes, end) = FaultProxyTestClient.receive(fd, count: 1, timeout: .milliseconds(300))
        #expect(end == .timeout)
        #expect(bytes.isEmpty)
        #expect(server.accepted == 1)  // only the first connection ever reached the server
        #expect(proxy.bytesToServer == 4)
    }

    @Test(".delay(200) holds each chunk at least 200 ms")
    func delay() throws {
        let server = try FaultProxyTestServer.echo()
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.fault = .delay(200)

        let fd = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(fd) }
        let start = ContinuousClock.now
        FaultProxyTestClient.sendAll(fd, Array("ping".utf8))
        let (bytes, end) = FaultProxyTestClient.receive(fd, count: 4, timeout: .seconds(5))
        let elapsed = ContinuousClock.now - start
        #expect(end == .complete)
        #expect(bytes == Array("ping".utf8))
        #expect(elapsed >= .milliseconds(200), "round trip took \(faultProxyMilliseconds(elapsed)) ms")

        // Back to none on the same connection: fast again.
        proxy.fault = .none
        let again = ContinuousClock.now
        FaultProxyTestClient.sendAll(fd, Array("pong".utf8))
        #expect(FaultProxyTestClient.receive(fd, count: 4, timeout: .seconds(5)).end == .complete)
        #expect(ContinuousClock.now - again < .milliseconds(400))  // still delayed, it would take 400 ms at least
    }

    @Test("stop() returns promptly with stalled connections open, and closes them all")
    func stopWithStalledConnections() throws {
        // 32 MB answers: more than the socket buffers between the proxy and a client that reads nothing.
        let server = try FaultProxyTestServer.answering(requestBytes: 100, response: [UInt8](repeating: 0x5A, count: 32 << 20))
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        var clients: [Int32] = []
        defer { for fd in clients { close(fd) } }

        // A client that reads nothing, so the proxy's write to it blocks.
        let sluggard = try FaultProxyTestClient.connected(port: proxy.port)
        clients.append(sluggard)
        FaultProxyTestClient.sendAll(sluggard, FaultProxyTestClient.payload(100))
        let held6 = proxy.waitFor({ $0.bytesToClient >= 1 << 20 }, timeout: .seconds(5))
        #expect(held6)

        let faults: [FaultProxy.Fault] = [.delay(60_000), .dropAll, .stallRequest(afterBytes: 10), .stallResponse(afterBytes: 10)]
        for fault in faults {
            proxy.fault = fault
            let fd = try FaultProxyTestClient.connected(port: proxy.port)
            clients.append(fd)
            FaultProxyTestClient.sendAll(fd, FaultProxyTestClient.payload(100))
            // The fault that counts for a new connection is the one in force when the proxy accepts it.
            let count = clients.count
            let admitted = proxy.waitFor({ $0.connectionsAccepted == count }, timeout: .seconds(5))
            #expect(admitted)
        }
        let held7 = proxy.waitFor({ $0.bytesWithheldFromClient > 0 && $0.bytesWithheldFromServer > 0 }, timeout: .seconds(5))
        #expect(held7)
        #expect(proxy.counters.connectionsOpen == 5)

        let start = ContinuousClock.now
        proxy.stop()
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(2), "stop() took \(faultProxyMilliseconds(elapsed)) ms")
        proxy.stop()  // idempotent

        #expect(proxy.counters.connectionsOpen == 0)
        switch FaultProxyTestClient.connect(port: proxy.port) {
        case .success(let fd):
            close(fd)
            Issue.record("connect succeeded after stop()")
        case .failure(let error):
            #expect(error.code == .ECONNREFUSED)
        }
        for fd in clients {
            var ended = false
            for _ in 0..<200 {  // the sluggard has up to ~half a megabyte queued before the close
                let end = FaultProxyTestClient.receive(fd, count: 1 << 20, timeout: .seconds(5)).end
                if end != .complete {
                    #expect(end == .eof || end == .error(ECONNRESET))
                    ended = true
                    break
                }
            }
            #expect(ended)
        }
    }

    @Test("dropping the last reference stops the proxy")
    func deinitStops() throws {
        let server = try FaultProxyTestServer.echo()
        defer { server.stop() }
        var proxy: FaultProxy? = try FaultProxy(upstreamPort: server.port)
        let port = try #require(proxy?.port)
        proxy?.fault = .dropAll
        let fd = try FaultProxyTestClient.connected(port: port)
        defer { close(fd) }
        FaultProxyTestClient.sendAll(fd, Array("x".utf8))
        proxy = nil
        if case .success(let other) = FaultProxyTestClient.connect(port: port) {
            close(other)
            Issue.record("connect succeeded after the proxy was released")
        }
        let end = FaultProxyTestClient.receive(fd, count: 1, timeout: .seconds(5)).end
        #expect(end == .eof || end == .error(ECONNRESET))
    }

    @Test("waitFor times out when the condition never holds")
    func waitForTimesOut() throws {
        let proxy = try FaultProxy(upstreamPort: 9)
        defer { proxy.stop() }
        let start = ContinuousClock.now
        #expect(!proxy.waitFor({ $0.connectionsAccepted > 0 }, timeout: .milliseconds(150)))
        #expect(ContinuousClock.now - start >= .milliseconds(150))
    }

    @Test("an upstream that is down closes the client")
    func upstreamDown() throws {
        // A port bound but not listening: connecting to it is refused, and nothing else can take it meanwhile.
        let reserved = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(reserved) }
        var address = FaultProxyTestClient.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(reserved, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 && getsockname(reserved, $0, &length) == 0
            }
        }
        try #require(bound)
        let proxy = try FaultProxy(upstreamPort: Int(UInt16(bigEndian: address.sin_port)))
        defer { proxy.stop() }
        let fd = try FaultProxyTestClient.connected(port: proxy.port)
        defer { close(fd) }
        let end = FaultProxyTestClient.receive(fd, count: 1, timeout: .seconds(5)).end
        #expect(end == .eof || end == .error(ECONNRESET))
        #expect(proxy.counters.upstreamConnectFailures == 1)
    }
}
