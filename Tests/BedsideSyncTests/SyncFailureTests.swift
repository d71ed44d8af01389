import BedsideCore
import BedsideServerKit
import BedsideStore
import BedsideTestSupport
import Foundation
import Hummingbird
import HummingbirdTLS
import Synchronization
import Testing

@testable import BedsideSync

/// The sync engine against a real server that refuses, throttles, fails or logs the patient out in the
/// middle: nothing is lost, nothing is duplicated, and what is refused is kept with the server's reason.
@Suite("Sync when things go wrong", .serialized)
struct SyncFailureTests {
    @Test("422 for one entry of a batch: that one is kept with the server's reason, the rest are stored; fixed, it goes")
    func oneEntryRefused() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient("ann@example.org")
        let client = try await SyncClient(server: server, email: "ann@example.org")
        defer { client.close() }
        try client.addWeights(4)
        // Taken "tomorrow" by a computer whose clock is a day fast.
        let future = try client.addWeights(1, endingBefore: -86_400_000)[0]

        let report = await client.push()
        #expect(report.error == nil, "\(String(describing: report.error))")
        #expect(report.sent == 4 && report.rejected == 1)
        let refused = try client.store.rejectedItems(limit: 10)
        #expect(refused.map(\.record.id) == [future.id])
        #expect(refused.first?.reason.contains("future") == true, "the server's own reason: \(refused)")
        #expect(try client.unsent() == 0 && client.store.rejectedCount() == 1)
        #expect(try await client.serverIdentifiers().count == 4)

        // The patient fixes the time: it is queued again and accepted.
        var fixed = future
        fixed.effectiveAt = client.clock.now() - 600_000
        try client.store.update(fixed, now: client.clock.now())
        let again = await client.push()
        #expect(again.sent == 1 && again.rejected == 0 && again.error == nil)
        let identifiers = try await client.serverIdentifiers()
        #expect(identifiers.count == 5 && Set(identifiers).count == 5)
        await server.stop()
    }

    @Test("401 in the middle: what was acknowledged stays sent, the rest stays queued; after a new login all of it arrives once")
    func sessionEndsMidway() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient("bob@example.org")
        let client = try await SyncClient(server: server, email: "bob@example.org")
        defer { client.close() }
        try client.addWeights(600)
        // After the first batch is acknowledged, the session ends on the server (a logout elsewhere).
        let revoker = HTTPTransport(configuration: TransportConfiguration(caFile: server.caFile))
        defer { revoker.closeConnections() }
        let revoked = Mutex(false)
        let token = client.token
        let url = server.url
        let report = await client.push { progress in
            guard case .sending(let done, _) = progress, done > 0, !revoked.withLock({ $0 }) else { return }
            revoked.withLock { $0 = true }
            _ = try? revoker.sendBlocking(HTTPRequestSpec(
                method: "POST", url: url + "/auth/logout", headers: [("Authorization", "Bearer \(token)")], body: []))
        }
        guard case .refused(401, _, _, _)? = report.error else {
            Issue.record("expected 401, got \(String(describing: report.error))")
            return
        }
        #expect(report.sent == 250)
        #expect(try client.unsent() == 350, "nothing dropped")

        try await client.logInAgain(server: server, email: "bob@example.org")
        let resumed = await client.push()
        #expect(resumed.error == nil && resumed.sent == 350)
        let identifiers = try await client.serverIdentifiers()
        #expect(identifiers.count == 600 && Set(identifiers).count == 600, "no duplicates")
        await server.stop()
    }

    @Test("429 with Retry-After: the client stops, keeps everything, and waits at least as long as asked")
    func throttled() async throws {
        let clock = ManualClock(epochMilliseconds: 1_795_000_000_000)
        let server = try await LoopbackServer(clock: clock, rateLimit: RateLimit(requests: 2, windowSeconds: 60))
        try await server.addPatient("cem@example.org")
        let client = try await SyncClient(server: server, email: "cem@example.org", clock: clock)
        defer { client.close() }
        try client.addWeights(30)
        let report = await client.push(batchSize: 10)
        guard case .refused(429, _, _, let retryAfter)? = report.error, let retryAfter else {
            Issue.record("expected 429 with Retry-After, got \(String(describing: report.error))")
            return
        }
        #expect(retryAfter > 0 && retryAfter <= 60)
        let queued = try client.unsent()
        #expect(report.sent == 20 && queued == 10)
        let wait = RetryPolicy.standard.delay(afterFailures: 1, retryAfterSeconds: retryAfter, randomUnit: 0.5)
        #expect(wait >= Int64(retryAfter) * 1000, "the back-off honours Retry-After")
        clock.advance(milliseconds: wait)
        let resumed = await client.push(batchSize: 10)
        #expect(resumed.error == nil && resumed.sent == 10)
        #expect(Set(try await client.serverIdentifiers()).count == 30)
        await server.stop()
    }

    @Test("500 while the server's database is stuck: nothing is marked sent; when it recovers, everything goes once")
    func serverFailing() async throws {
        let server = try await LoopbackServer { $0.databaseBusyTimeoutSeconds = 0.3 }
        try await server.addPatient("dee@example.org")
        let client = try await SyncClient(server: server, email: "dee@example.org")
        defer { client.close() }
        try client.addWeights(40)
        let lock = try DatabaseWriteLock(path: server.directory.appendingPathComponent("bedside-server.sqlite").path)
        for _ in 0..<2 {
            let report = await client.push(batchSize: 20)
            guard case .refused(500, _, _, _)? = report.error else {
                Issue.record("expected 500, got \(String(describing: report.error))")
                break
            }
            let queued = try client.unsent()
            #expect(report.sent == 0 && queued == 40)
        }
        try lock.release()
        let recovered = await client.push(batchSize: 20)
        #expect(recovered.error == nil && recovered.sent == 40)
        let identifiers = try await client.serverIdentifiers()
        #expect(identifiers.count == 40 && Set(identifiers).count == 40)
        await server.stop()
    }

    @Test("two devices of one patient, both offline, then both sync: all of both on the server and on each device")
    func twoDevices() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient("eva@example.org")
        let phone = try await SyncClient(server: server, email: "eva@example.org")
        let laptop = try await SyncClient(server: server, email: "eva@example.org")
        defer {
            phone.close()
            laptop.close()
        }
        try phone.addWeights(3)
        try laptop.addWeights(4, endingBefore: 7_200_000)
        for device in [phone, laptop] {
            let report = await device.sync()
            #expect(report.error == nil, "\(String(describing: report.error))")
        }
        // The phone learns of the laptop's entries at its next pull.
        #expect(await phone.sync().received == 4)
        #expect(try phone.store.count(kind: nil) == 7 && laptop.store.count(kind: nil) == 7)
        let identifiers = try await phone.serverIdentifiers()
        #expect(identifiers.count == 7 && Set(identifiers).count == 7)
        await server.stop()
    }

    @Test("an untrusted server or a redirect stops the sync with a clear message; the queue is untouched")
    func failsClosed() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient("fay@example.org")
        let client = try await SyncClient(server: server, email: "fay@example.org")
        defer { client.close() }
        try client.addWeights(5)

        // A server with a certificate from a CA the client does not trust.
        let stranger = try await LoopbackServer()
        let untrusted = SyncEngine(api: BedsideAPI(server: stranger.url, transport: client.transport), store: client.store, token: client.token, clock: client.clock)
        let refused = await untrusted.run(patientID: client.patientID)
        guard case .transport(.untrustedServer)? = refused.error else {
            Issue.record("expected an untrusted server, got \(String(describing: refused.error))")
            return
        }
        #expect(refused.error?.description.contains("could not be verified, so nothing was sent") == true)
        #expect(try client.unsent() == 5)
        await stranger.stop()

        // A trusted server that answers with a redirect: never followed.
        let redirector = try await RedirectingServer(caDirectory: server.directory.appendingPathComponent("tls"))
        let redirected = await SyncEngine(
            api: BedsideAPI(server: "https://127.0.0.1:\(redirector.port)", transport: client.transport), store: client.store,
            token: client.token, clock: client.clock
        ).run(patientID: client.patientID)
        guard case .transport(.insecureURL(let detail))? = redirected.error else {
            Issue.record("expected a refused redirect, got \(String(describing: redirected.error))")
            return
        }
        #expect(detail.contains("redirect"))
        #expect(redirector.requestCount >= 1, "the redirect really came from the server")
        #expect(try client.unsent() == 5)
        await redirector.stop()

        // Plain http never connects.
        let plain = await SyncEngine(
            api: BedsideAPI(server: "http://127.0.0.1:\(server.running.port)", transport: client.transport), store: client.store,
            token: client.token, clock: client.clock
        ).run(patientID: client.patientID)
        guard case .transport(.insecureURL)? = plain.error else {
            Issue.record("expected plain http refused, got \(String(describing: plain.error))")
            return
        }
        #expect(try client.unsent() == 5)

        // And the real server still gets everything, once.
        #expect(await client.sync().sent == 5)
        #expect(try await client.serverIdentifiers().count == 5)
        await server.stop()
    }
}

/// A TLS server with a certificate the client trusts, which answers every request with a redirect
/// elsewhere: a captive portal, a hijacked DNS name or a misconfigured proxy looks like this.
final class RedirectingServer: Sendable {
    final class Counter: Sendable {
        let value = Mutex(0)
    }

    let port: Int
    private let counter: Counter
    private let task: Task<Void, any Error>

    /// Requests answered so far.
    var requestCount: Int { counter.value.withLock { $0 } }

    init(caDirectory: URL) async throws {
        let authority = DevCertificateAuthority(directory: caDirectory)
        _ = try authority.ensure()
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(authority.serverCertificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: authority.serverKeyPath, format: .pem)))
        tls.shutdownTimeout = .seconds(1)
        let router = Router()
        let counter = Counter()
        for method in [HTTPRequest.Method.get, .post, .put] {
            router.on("**", method: method) { _, _ -> Response in
                counter.value.withLock { $0 += 1 }
                return Response(status: .found, headers: [.location: "https://127.0.0.1:9/elsewhere"])
            }
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        task = Task { try await app.runService() }
        var bound = 0
        for await port in ports {
            bound = port
            break
        }
        port = bound
        self.counter = counter
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// The network itself misbehaving between the device and a healthy server.
@Suite("Sync through a bad network", .serialized)
struct BadNetworkTests {
    @Test("a reset connection, a truncated answer, a stalled answer: each sync fails cleanly, the next completes, nothing twice",
        arguments: [
            FaultProxy.Fault.reset, .resetAfterRequestBytes(2_500), .truncateResponse(afterBytes: 4_000), .stallResponse(afterBytes: 3_000),
            .refuse, .down,
        ])
    func fault(_ fault: FaultProxy.Fault) async throws {
        let server = try await LoopbackServer()
        try await server.addPatient("ivy@example.org")
        let proxy = try FaultProxy(upstreamPort: server.running.port)
        defer { proxy.stop() }
        var configuration = TransportConfiguration(caFile: server.caFile)
        // A stalled answer ends in the transport's own timeout (kept short for that fault only: on a
        // busy machine a healthy debug-build request can take longer than 3 s).
        if case .stallResponse = fault { configuration.totalTimeoutSeconds = 3 }
        let client = try await SyncClient(
            server: server, email: "ivy@example.org", url: "https://127.0.0.1:\(proxy.port)", transport: configuration)
        defer { client.close() }
        try client.addWeights(300)
        proxy.fault = fault
        let broken = await client.push(batchSize: 100)
        #expect(broken.error != nil, "\(fault): the sync noticed")
        if case .transport? = broken.error {} else { Issue.record("\(fault): a transport error, not \(String(describing: broken.error))") }
        // What the device believes sent, the server has; the rest is still queued.
        let onServer = try await client.serverIdentifiersDirect(server)
        #expect(try client.unsent() == 300 - broken.sent)
        #expect(onServer.count >= broken.sent)

        proxy.fault = .none
        proxy.closeConnections()
        let healed = await client.sync()
        #expect(healed.error == nil, "\(fault): \(String(describing: healed.error))")
        #expect(try client.unsent() == 0)
        let identifiers = try await client.serverIdentifiers()
        #expect(identifiers.count == 300 && Set(identifiers).count == 300, "\(fault): no loss, no duplicate")
        await server.stop()
    }
}

/// A kept-alive connection that the other side closed between requests: libcurl sends the request
/// again on a new connection, and must be able to rewind the body to do so.
@Suite("Kept-alive connections")
struct KeptAliveTests {
    @Test("a POST after the connection was closed behind the client's back still arrives, whole")
    func resendAfterClose() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient("joy@example.org")
        let proxy = try FaultProxy(upstreamPort: server.running.port)
        defer { proxy.stop() }
        let client = try await SyncClient(server: server, email: "joy@example.org", url: "https://127.0.0.1:\(proxy.port)")
        defer { client.close() }
        for round in 0..<15 {
            try client.addWeights(2, endingBefore: Int64(round + 1) * 3_600_000)
            let report = await client.push()
            #expect(report.error == nil, "round \(round): \(String(describing: report.error))")
            // The connection curl keeps is cut now; the next push reuses it, finds it dead, and sends again.
            proxy.closeConnections()
            try await Task.sleep(for: .milliseconds(round % 3 * 5))
        }
        #expect(try await client.serverIdentifiers().count == 30)
        await server.stop()
    }
}
