import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A hostile HTTPS server on loopback, for tests of what the client does with answers no honest server sends:
/// an endless body, a gzip bomb, absurd headers, escape sequences in diagnostics, endless `next` links.
///
/// It holds the real test server's certificate (the client trusts it, as it would trust a compromised or
/// misconfigured server), and writes raw HTTP/1.1 bytes, so nothing between it and the client tidies an answer
/// up (a web framework would replace a `Date` header or refuse a 1 MB header line). Put it behind a
/// `FaultProxy` with `.divert(toPort:)`, or point a client at `url` directly.
public final class HostileServer: Sendable {
    /// One request as received.
    public struct Request: Sendable {
        public var method: String
        /// The request target, e.g. `/fhir/Observation?patient=1`.
        public var target: String
        public var headers: [(String, String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    /// What to answer.
    public struct Reply: Sendable {
        public enum Body: Sendable {
            /// These bytes, with a Content-Length.
            case bytes([UInt8])
            /// This chunk again and again, chunked, until the client goes away.
            case endless(chunk: [UInt8])
        }

        public var status: Int
        /// Written as given, in order: nothing is added but Content-Length or Transfer-Encoding.
        public var headers: [(String, String)]
        public var body: Body

        public init(status: Int, headers: [(String, String)] = [], body: Body = .bytes([])) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        /// A JSON answer.
        public static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> Reply {
            Reply(status: status, headers: [("Content-Type", "application/fhir+json")] + headers, body: .bytes(Array(text.utf8)))
        }
    }

    /// What the server saw and sent.
    public struct Counters: Sendable, Equatable {
        public var connections = 0
        public var requests = 0
        /// Body bytes written to clients (accepted by the kernel), over all answers.
        public var bodyBytesSent = 0
        /// Answers whose client went away before the body was complete (or, for an endless body, at all).
        public var abandoned = 0
    }

    public let port: Int
    public var url: String { "https://127.0.0.1:\(port)" }

    private let channel: any Channel
    private let state: SharedCounters

    /// Listens on 127.0.0.1 at an ephemeral port with the certificate chain and key in the given PEM files,
    /// answering every request with `respond`.
    public init(certificateChain: String, privateKey: String, respond: @escaping @Sendable (Request) -> Reply) throws {
        var tls = NIOSSL.TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificateChain).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: privateKey, format: .pem)))
        tls.minimumTLSVersion = .tlsv12
        let context = try NIOSSLContext(configuration: tls)
        let counters = SharedCounters()
        state = counters
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counters.mutex.withLock { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(HostileHandler(respond: respond, counters: counters))
                }
            }
        channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress?.port ?? 0
    }

    /// Serves with the certificate of a `LoopbackServer` (its data directory's `tls/server.pem` and `server.key`).
    public convenience init(impersonating server: LoopbackServer, respond: @escaping @Sendable (Request) -> Reply) throws {
        let tls = server.directory.appendingPathComponent("tls")
        try self.init(
            certificateChain: tls.appendingPathComponent("server.pem").path, privateKey: tls.appendingPathComponent("server.key").path,
            respond: respond)
    }

    public var counters: Counters { state.mutex.withLock { $0 } }

    public func stop() {
        try? channel.close().wait()
    }

    /// A gzip member whose deflate stream inflates to at least `inflatedBytes` zero bytes.
    ///
    /// One fixed-Huffman block: a literal zero, then matches of 258 bytes at distance 1 (13 bits each), so
    /// 1 GiB takes about 6.8 MB: less than the client's cap on the wire, 160 times more once inflated. The
    /// trailer's CRC is not computed (it would take reading 1 GiB); a client that stops at its cap never
    /// gets there, and one that does not has already held the whole GiB.
    public static func gzipOfZeros(inflatedBytes: Int) -> [UInt8] {
        var output: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        let matches = max(0, (inflatedBytes - 1 + 257) / 258)
        output.reserveCapacity(output.count + matches * 13 / 8 + 16)
        var accumulator: UInt64 = 0
        var bits = 0
        func put(_ value: UInt64, _ count: Int) {
            accumulator |= value << UInt64(bits)
            bits += count
            while bits >= 8 {
                output.append(UInt8(truncatingIfNeeded: accumulator))
                accumulator >>= 8
                bits -= 8
            }
        }
        // Huffman codes go most significant bit first into deflate's least-significant-first bit stream.
        func reversed(_ code: UInt64, _ count: Int) -> UInt64 {
            var result: UInt64 = 0
            for bit in 0..<count where code & (1 << UInt64(bit)) != 0 { result |= 1 << UInt64(count - 1 - bit) }
            return result
        }
        put(1, 1)  // BFINAL
        put(1, 2)  // BTYPE 01: fixed Huffman codes
        put(reversed(0x30, 8), 8)  // literal 0
        let match = reversed(0xC5, 8)  // length 258 (symbol 285), then distance code 0 (distance 1): five zero bits
        for _ in 0..<matches { put(match, 13) }
        put(0, 7)  // end of block (symbol 256)
        if bits > 0 { put(0, 8 - bits) }
        let total = UInt32(truncatingIfNeeded: 1 + matches * 258)
        output += [0, 0, 0, 0]  // CRC-32, not computed (see above)
        output += withUnsafeBytes(of: total.littleEndian, Array.init)
        return output
    }
}

/// The counters, shared by the server and every connection's handler.
final class SharedCounters: Sendable {
    let mutex = Mutex(HostileServer.Counters())
}

/// Reads requests (headers, then a Content-Length body) and writes each reply as raw bytes.
private final class HostileHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let respond: @Sendable (HostileServer.Request) -> HostileServer.Reply
    let counters: SharedCounters
    var received: [UInt8] = []
    /// After an endless answer nothing more is read or answered on this connection.
    var streaming = false

    init(respond: @escaping @Sendable (HostileServer.Request) -> HostileServer.Reply, counters: SharedCounters) {
        self.respond = respond
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard !streaming else { return }
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
        while !streaming, let request = nextRequest() {
            counters.mutex.withLock { $0.requests += 1 }
            answer(respond(request), on: context.channel)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The first complete request in `received`, taken out of it.
    func nextRequest() -> HostileServer.Request? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard received.count >= 4,
            let end = (0...(received.count - 4)).first(where: { received[$0..<$0 + 4].elementsEqual(separator) })
        else { return nil }
        let head = String(decoding: received[..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
        guard received.count >= end + 4 + length else { return nil }
        let body = Array(received[(end + 4)..<(end + 4 + length)])
        received.removeFirst(end + 4 + length)
        return HostileServer.Request(
            method: requestLine.first.map(String.init) ?? "", target: requestLine.dropFirst().first.map(String.init) ?? "",
            headers: headers, body: body)
    }

    func answer(_ reply: HostileServer.Reply, on channel: any Channel) {
        var head = "HTTP/1.1 \(reply.status) Hostile\r\n"
        for (name, value) in reply.headers { head += "\(name): \(value)\r\n" }
        switch reply.body {
        case .bytes(let bytes):
            head += "Content-Length: \(bytes.count)\r\n\r\n"
            var buffer = channel.allocator.buffer(capacity: head.utf8.count + bytes.count)
            buffer.writeString(head)
            buffer.writeBytes(bytes)
            let counters = self.counters
            channel.writeAndFlush(buffer).whenComplete { result in
                counters.mutex.withLock {
                    if case .success = result { $0.bodyBytesSent += bytes.count } else { $0.abandoned += 1 }
                }
            }
        case .endless(let chunk):
            streaming = true
            head += "Transfer-Encoding: chunked\r\n\r\n"
            var framed = channel.allocator.buffer(capacity: chunk.count + 16)
            framed.writeString(String(chunk.count, radix: 16) + "\r\n")
            framed.writeBytes(chunk)
            framed.writeString("\r\n")
            var buffer = channel.allocator.buffer(capacity: head.utf8.count)
            buffer.writeString(head)
            channel.write(buffer, promise: nil)
            Self.pump(framed, size: chunk.count, on: channel, counters: counters)
        }
    }

    /// Writes one chunk, and the next when the kernel took it (so memory stays flat), until the client leaves.
    static func pump(_ chunk: ByteBuffer, size: Int, on channel: any Channel, counters: SharedCounters) {
        channel.writeAndFlush(chunk).whenComplete { result in
            switch result {
            case .success:
                counters.mutex.withLock { $0.bodyBytesSent += size }
                // A fresh turn of the event loop, so a write that completes at once does not deepen the stack.
                channel.eventLoop.execute { pump(chunk, size: size, on: channel, counters: counters) }
            case .failure:
                counters.mutex.withLock { $0.abandoned += 1 }
                channel.close(promise: nil)
            }
        }
    }
}
