import BedsideCore
import BedsideServerKit
import BedsideStore
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideSync

/// A server the client trusts (it holds the real server's certificate) that answers as no honest server
/// does. The client must stop reading at its limits with a typed error, never hold more than the cap, and
/// never trap on the numbers it is sent.
@Suite("Hostile server: transport and sync", .serialized)
struct HostileTransportTests {
    static let cap = TransportConfiguration().maximumResponseBytes

    /// A hostile server with the loopback server's certificate, the loopback server (for its CA), and a transport.
    func withHostile(
        _ respond: @escaping @Sendable (HostileServer.Request) -> HostileServer.Reply,
        _ body: (HostileServer, LoopbackServer, HTTPTransport) async throws -> Void
    ) async throws {
        let server = try await LoopbackServer()
        let hostile = try HostileServer(impersonating: server, respond: respond)
        let transport = HTTPTransport(configuration: TransportConfiguration(caFile: server.caFile))
        do {
            try await body(hostile, server, transport)
        } catch {
            Issue.record("\(error)")
        }
        transport.closeConnections()
        hostile.stop()
        await server.stop()
    }

    func get(_ transport: HTTPTransport, _ url: String) async -> Result<HTTPResponseData, TransportError> {
        do {
            return .success(try await transport.send(HTTPRequestSpec(method: "GET", url: url)))
        } catch {
            return .failure(error)
        }
    }

    @Test("an endless body is cut off at the cap with responseTooLarge, not buffered")
    func endlessBody() async throws {
        try await withHostile({ _ in
            HostileServer.Reply(status: 200, headers: [("Content-Type", "application/fhir+json")], body: .endless(chunk: Array(repeating: 0x5B, count: 65_536)))
        }) { hostile, _, transport in
            let result = await get(transport, hostile.url + "/fhir/metadata")
            guard case .failure(.responseTooLarge(let limit)) = result else { Issue.record("\(result)"); return }
            #expect(limit == Self.cap)
            // What the server got rid of is what the client read, plus what sat in socket buffers when it stopped.
            #expect(hostile.counters.bodyBytesSent < Self.cap + 16 << 20, "\(hostile.counters)")
            #expect(TransportError.responseTooLarge(limitBytes: Self.cap).description.contains("16 MiB"))
        }
    }

    @Test("a gzip bomb (6.8 MB on the wire, 1 GiB inflated) is cut off at the cap of inflated bytes")
    func gzipBomb() async throws {
        let bomb = HostileServer.gzipOfZeros(inflatedBytes: 1 << 30)
        #expect(bomb.count < Self.cap, "small on the wire, so only counting inflated bytes catches it")
        try await withHostile({ _ in
            HostileServer.Reply(status: 200, headers: [("Content-Type", "application/fhir+json"), ("Content-Encoding", "gzip")], body: .bytes(bomb))
        }) { hostile, _, transport in
            let result = await get(transport, hostile.url + "/fhir/metadata")
            guard case .failure(.responseTooLarge(let limit)) = result else { Issue.record("\(result)"); return }
            #expect(limit == Self.cap)
        }
    }

    @Test("a 1 MB header line, and 1 MB of small headers, are refused with headersTooLarge")
    func hugeHeaders() async throws {
        let line = String(repeating: "x", count: 1 << 20)
        let many = (0..<20_000).map { ("X-Filler-\($0)", String(repeating: "y", count: 40)) }
        try await withHostile({ request in
            request.target.hasSuffix("one")
                ? HostileServer.Reply.json(200, "{}", headers: [("X-Huge", line)]) : HostileServer.Reply.json(200, "{}", headers: many)
        }) { hostile, _, transport in
            for path in ["/one", "/many"] {
                let result = await get(transport, hostile.url + path)
                guard case .failure(.headersTooLarge) = result else { Issue.record("\(path): \(result)"); continue }
            }
            // And the transport still works afterwards.
            transport.closeConnections()
        }
    }

    @Test("an absurd Retry-After is clamped to a day; a Date in year 99999 is ignored; neither traps")
    func absurdHeaders() async throws {
        try await withHostile({ request in
            if request.target.contains("busy") {
                return .json(503, #"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient"}]}"#,
                    headers: [("Retry-After", "9223372036854775807")])
            }
            return .json(200, #"{"resourceType":"Bundle","type":"searchset","entry":[]}"#, headers: [("Date", "Fri, 31 Dec 99999 23:59:59 GMT")])
        }) { hostile, _, transport in
            let api = BedsideAPI(server: hostile.url, transport: transport)
            let busy = try await api.send("GET", "/fhir/busy", token: "t")
            let error = BedsideAPI.refusal(busy)
            #expect(error.retryAfter == RetryAfter.maximumSeconds, "\(error)")
            #expect(error.isServerBusy)
            let response = try await transport.send(HTTPRequestSpec(method: "GET", url: hostile.url + "/fhir/Observation"))
            var report = SyncReport()
            report.count(response, body: response.json, sentAt: 0, receivedAt: 10)
            #expect(report.serverClockOffset == nil, "year 99999 is no clock")
        }
    }

    @Test("a server that never stops sending next links is followed only so far")
    func endlessPaging() async throws {
        let page = #"{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"https://127.0.0.1/fhir/Observation?_offset=%d"}],"entry":[]}"#
        let batch = #"{"resourceType":"Bundle","type":"batch-response","entry":[%@]}"#
        try await withHostile({ request in
            if request.method == "POST" {
                // The pull's first batch: every read answered with a page that has a next link.
                let count = (try? JSONParser.parse(request.body))?["entry"]?.arrayValue?.count ?? 2
                let entry = #"{"response":{"status":"200 OK"},"resource":"# + String(format: page, 1) + "}"
                return .json(200, String(format: batch, Array(repeating: entry, count: count).joined(separator: ",")))
            }
            let offset = Int(request.target.split(separator: "=").last ?? "0") ?? 0
            return .json(200, String(format: page, offset + 1))
        }) { hostile, server, _ in
            try await server.addPatient("pat@example.org")
            let client = try await SyncClient(server: server, email: "pat@example.org", url: hostile.url)
            defer { client.close() }
            let report = await client.engine().pull(patientID: client.patientID)
            guard case .invalidResponse(let detail)? = report.error else { Issue.record("\(String(describing: report.error))"); return }
            #expect(detail.contains("pages"), "\(detail)")
            #expect(hostile.counters.requests <= SyncEngine.maximumPages + 2, "\(hostile.counters)")
        }
    }
}
