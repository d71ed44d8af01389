import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Synchronization
import Testing

@testable import BedsideServerKit

/// An https endpoint on loopback that records what it is sent and answers the statuses it is given
/// (then 200).
final class HookReceiver: Sendable {
    private let received = Mutex<[HostileServer.Request]>([])
    private let statuses = Mutex<[Int]>([])
    private let box = Mutex<HostileServer?>(nil)

    /// With a certificate the Bedside test server's dev CA signed (so `--outbound-ca-file` trusts it),
    /// or given files.
    init(impersonating server: TestServer) throws {
        let receiver = self
        box.withLock { $0 = try? HostileServer(impersonating: server.server) { receiver.answer($0) } }
    }

    init(certificateChain: String, privateKey: String) throws {
        let receiver = self
        let server = try HostileServer(certificateChain: certificateChain, privateKey: privateKey) { receiver.answer($0) }
        box.withLock { $0 = server }
    }

    private func answer(_ request: HostileServer.Request) -> HostileServer.Reply {
        received.withLock { $0.append(request) }
        return HostileServer.Reply(status: statuses.withLock { $0.isEmpty ? 200 : $0.removeFirst() })
    }

    func answerNext(_ list: [Int]) { statuses.withLock { $0 = list } }
    var requests: [HostileServer.Request] { received.withLock { $0 } }
    var url: String { box.withLock { $0?.url ?? "https://127.0.0.1:1" } }
    func stop() { box.withLock { $0?.stop() } }
}

@Suite("Subscriptions (rest-hook)")
struct SubscriptionTests {
    static let scopes = "system/Subscription.cruds system/Observation.crs system/Flag.rs"

    /// A test server whose own notification loop is off: each test runs the dispatcher itself.
    func withSubscriptionServer(backend: StoreBackend = .sqlite, _ body: (TestServer) async throws -> Void) async throws {
        try await withServer(backend: backend, configure: { $0.subscriptions.interval = nil }, body)
    }

    func dispatcher(_ server: TestServer, trusting caFile: String?, maximumFailures: Int = 10) -> SubscriptionDispatcher {
        var settings = SubscriptionSettings()
        settings.interval = nil
        settings.outboundCAFile = caFile
        settings.retryDelay = 1_000
        settings.maximumFailures = maximumFailures
        return SubscriptionDispatcher(store: server.store, clock: server.clock, settings: settings, baseURL: server.baseURL + "/fhir")
    }

    func subscription(
        endpoint: String, criteria: String = "Observation?category=vital-signs", headers: [String] = ["Authorization: Bearer hook-secret-42"],
        payload: JSONValue? = "application/fhir+json", status: String = "requested", type: String = "rest-hook"
    ) -> JSONValue {
        var channel: JSONObject = ["type": .string(type), "endpoint": .string(endpoint), "header": .array(headers.map { .string($0) })]
        if let payload { channel["payload"] = payload }
        return [
            "resourceType": "Subscription", "status": .string(status), "reason": "Vital signs for the EMR",
            "criteria": .string(criteria), "channel": .object(channel),
        ]
    }

    /// A patient, an EMR's client id and token.
    func setUp(_ server: TestServer, scopes: String = SubscriptionTests.scopes) async throws -> (patientID: String, patientToken: String, clientID: String, token: String) {
        let patient = try await server.addPatient("sub-\(UUID().uuidString.prefix(8))@example.org")
        let patientToken = try await server.login(patient.email).token
        let emr = TestEMR()
        let clientID = try await server.register(emr, scopes: scopes)
        let token = try await server.systemToken(emr, clientID: clientID, scope: scopes)
        return (try #require(patient.patientID), patientToken, clientID, token)
    }

    func createObservation(_ server: TestServer, _ patientID: String, token: String, kilograms: Double = 80) async throws -> String {
        let created = try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(kilograms, patientID: patientID))
        #expect(created.status == 201, "\(created.text)")
        return try #require(created.json?["id"]?.stringValue)
    }

    @Test("two instances that both send a batch during a handover send it with one event number, and the next notification follows it without a gap")
    func handoverKeepsEventNumbers() async throws {
        try await withSubscriptionServer { server in
            let (patientID, patientToken, _, token) = try await setUp(server)
            let receiver = try HookReceiver(impersonating: server)
            defer { receiver.stop() }
            // The endpoint behind a proxy that holds every chunk a second: a delivery takes seconds.
            let port = try #require(URLComponents(string: receiver.url)?.port)
            let proxy = try FaultProxy(upstreamPort: port)
            defer { proxy.stop() }
            proxy.fault = .delay(1_000)
            let created = try await server.request(
                "POST", "/fhir/Subscription", token: token, json: subscription(endpoint: "https://127.0.0.1:\(proxy.port)/hook"))
            #expect(created.status == 201, "\(created.text)")
            let (old, new) = (dispatcher(server, trusting: server.caFile), dispatcher(server, trusting: server.caFile))
            _ = try await createObservation(server, patientID, token: patientToken)
            // Both look before either has recorded its delivery: the old leader is still sending (its
            // connection made, its answer seconds away) when the new one starts.
            async let first = old.run()
            #expect(await proxy.waitUntil(timeout: .seconds(30)) { $0.connectionsAccepted >= 1 })
            async let second = new.run()
            let sent = try await [first, second]
            proxy.fault = .none
            #expect(sent == [1, 1], "both sent the batch: \(sent)")
            _ = try await createObservation(server, patientID, token: patientToken, kilograms: 81)
            #expect(try await new.run() == 1)
            let numbers = receiver.requests.compactMap { request -> Int? in
                let bundle = JSONParser.parseOrNil(request.body)
                return bundle?["meta"]?["extension"]?.arrayValue?.compactMap { $0["valueInteger"]?.intValue }.first
            }
            #expect(numbers == [1, 1, 2], "event numbers sent: \(numbers)")
        }
    }

    @Test("an EMR subscribes; a vital sign written afterwards is POSTed to its https endpoint with its headers, id and version; nothing older is sent; the audit names the host, never the headers", arguments: StoreBackend.allCases)
    func notifies(_ backend: StoreBackend) async throws {
        try await withSubscriptionServer(backend: backend) { server in
            let (patientID, patientToken, clientID, token) = try await setUp(server)
            let receiver = try HookReceiver(impersonating: server)
            defer { receiver.stop() }
            _ = try await createObservation(server, patientID, token: patientToken, kilograms: 70)
            let created = try await server.request("POST", "/fhir/Subscription", token: token, json: subscription(endpoint: receiver.url + "/hook?k=1"))
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json?["status"]?.stringValue == "active")
            let subscriptionID = try #require(created.json?["id"]?.stringValue)
            let dispatcher = dispatcher(server, trusting: server.caFile)
            #expect(try await dispatcher.run() == 0)
            #expect(receiver.requests.isEmpty, "no backlog of what was there before the subscription")

            let observationID = try await createObservation(server, patientID, token: patientToken)
            #expect(try await dispatcher.run() == 1)
            let request = try #require(receiver.requests.first)
            #expect(request.method == "POST" && request.target == "/hook?k=1")
            #expect(request.header("authorization") == "Bearer hook-secret-42")
            #expect(request.header("content-type") == "application/fhir+json")
            let bundle = try #require(JSONParser.parseOrNil(request.body))
            #expect(bundle["resourceType"]?.stringValue == "Bundle" && bundle["type"]?.stringValue == "history")
            let entries = bundle["entry"]?.arrayValue ?? []
            #expect(entries.count == 1)
            #expect(entries.first?["resource"]?["id"]?.stringValue == observationID)
            #expect(entries.first?["resource"]?["meta"]?["versionId"]?.stringValue == "1")
            #expect(entries.first?["response"]?["etag"]?.stringValue == "W/\"1\"")
            #expect(entries.first?["fullUrl"]?.stringValue == "\(server.baseURL)/fhir/Observation/\(observationID)")
            let extensions = bundle["meta"]?["extension"]?.arrayValue ?? []
            #expect(extensions.contains { $0["valueReference"]?["reference"]?.stringValue == "Subscription/\(subscriptionID)" })
            #expect(extensions.contains { $0["valueInteger"]?.intValue == 1 })

            #expect(try await dispatcher.run() == 0, "nothing new: nothing sent")
            #expect(receiver.requests.count == 1)

            await server.running.flushAudit()
            let events = try await server.store.read { db in try db.auditEvents(after: 0, limit: 10_000) }.map(\.event)
            let notified = events.filter { $0.action == "notify" }
            #expect(notified.count == 1)
            #expect(notified.first?.actorID == clientID && notified.first?.actorRole == "system")
            #expect(notified.first?.resourceType == "Subscription" && notified.first?.resourceID == subscriptionID)
            #expect(notified.first?.outcome == "success" && notified.first?.httpStatus == 200 && notified.first?.patientID == patientID)
            #expect(notified.first?.request?.hasPrefix("POST 127.0.0.1:") == true)
            #expect(!events.contains { ($0.request ?? "").contains("hook-secret") || ($0.request ?? "").contains("/hook") })

            // People never see Subscriptions: as if there were none.
            #expect(try await server.request("GET", "/fhir/Subscription/\(subscriptionID)", token: patientToken).status == 404)
            #expect(try await server.request("GET", "/fhir/Subscription", token: patientToken).status == 404)
            let byPatient = try await server.request("POST", "/fhir/Subscription", token: patientToken, json: subscription(endpoint: receiver.url))
            #expect(byPatient.status == 404)
            let read = try await server.request("GET", "/fhir/Subscription?status=active", token: token)
            #expect(read.status == 200 && read.entries.count == 1, "\(read.text)")
        }
    }

    @Test("an endpoint answering 500 gets the same change again after the back-off, and the cursor moves only after the 200", arguments: StoreBackend.allCases)
    func redelivers(_ backend: StoreBackend) async throws {
        try await withSubscriptionServer(backend: backend) { server in
            let (patientID, patientToken, _, token) = try await setUp(server)
            let receiver = try HookReceiver(impersonating: server)
            defer { receiver.stop() }
            let created = try await server.request("POST", "/fhir/Subscription", token: token, json: subscription(endpoint: receiver.url + "/hook"))
            let subscriptionID = try #require(created.json?["id"]?.stringValue)
            let dispatcher = dispatcher(server, trusting: server.caFile)
            receiver.answerNext([500])
            let observationID = try await createObservation(server, patientID, token: patientToken)
            #expect(try await dispatcher.run() == 0)
            let failed = try #require(try await server.store.read { db in try db.subscriptionState(id: subscriptionID) })
            #expect(failed.failures == 1 && failed.lastError == "the endpoint answered 500" && failed.nextAttemptAt > server.clock.now())
            #expect(try await dispatcher.run() == 0, "not again before the back-off")
            #expect(receiver.requests.count == 1)
            server.clock.advance(seconds: 2)
            #expect(try await dispatcher.run() == 1)
            #expect(receiver.requests.count == 2)
            let ids = receiver.requests.compactMap { JSONParser.parseOrNil($0.body)?["entry"]?.arrayValue?.first?["resource"]?["id"]?.stringValue }
            #expect(ids == [observationID, observationID], "the same change, sent again")
            let state = try #require(try await server.store.read { db in try db.subscriptionState(id: subscriptionID) })
            let end = try await server.store.read { db in try db.lastChangeSequence() }
            #expect(state.failures == 0 && state.cursor == end && state.events == 1)
        }
    }

    @Test("an endpoint whose certificate does not verify gets nothing; after the failures allowed the Subscription is in error, saying why", arguments: StoreBackend.allCases)
    func untrustedEndpoint(_ backend: StoreBackend) async throws {
        try await withSubscriptionServer(backend: backend) { server in
            let (patientID, patientToken, _, token) = try await setUp(server)
            let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("other-ca-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: elsewhere) }
            let otherCA = DevCertificateAuthority(directory: elsewhere)
            _ = try otherCA.ensure()
            let receiver = try HookReceiver(certificateChain: otherCA.serverCertificatePath, privateKey: otherCA.serverKeyPath)
            defer { receiver.stop() }
            let created = try await server.request("POST", "/fhir/Subscription", token: token, json: subscription(endpoint: receiver.url + "/hook"))
            let subscriptionID = try #require(created.json?["id"]?.stringValue)
            let dispatcher = dispatcher(server, trusting: nil, maximumFailures: 3)
            _ = try await createObservation(server, patientID, token: patientToken)
            for _ in 0..<3 {
                #expect(try await dispatcher.run() == 0)
                server.clock.advance(minutes: 11)
            }
            #expect(receiver.requests.isEmpty, "nothing reached an endpoint that did not prove who it is")
            // The clock moved past the token's five minutes: the stored version is what the next read shows.
            let stored = try #require(try await server.store.read { db in try db.resource(type: "Subscription", id: subscriptionID) })
            let read = try #require(JSONParser.parseOrNil(stored.json))
            #expect(read["status"]?.stringValue == "error" && stored.versionID == 2, "\(read.serializedString())")
            #expect(read["error"]?.stringValue?.contains("certificate did not verify") == true, "\(read.serializedString())")
            #expect(try await dispatcher.run() == 0)
            await server.running.flushAudit()
            let failures = try await server.store.read { db in try db.auditEvents(after: 0, limit: 10_000) }.map(\.event)
                .filter { $0.action == "notify" && $0.outcome == "failure" }
            #expect(failures.count == 3, "one line per attempt; none after the error")
        }
    }

    @Test("status off stops deliveries; requested again starts from now", arguments: StoreBackend.allCases)
    func offStops(_ backend: StoreBackend) async throws {
        try await withSubscriptionServer(backend: backend) { server in
            let (patientID, patientToken, _, token) = try await setUp(server)
            let receiver = try HookReceiver(impersonating: server)
            defer { receiver.stop() }
            let created = try await server.request("POST", "/fhir/Subscription", token: token, json: subscription(endpoint: receiver.url + "/hook"))
            var resource = try #require(created.json?.objectValue)
            let subscriptionID = try #require(resource["id"]?.stringValue)
            resource["status"] = "off"
            let off = try await server.request(
                "PUT", "/fhir/Subscription/\(subscriptionID)", token: token, json: .object(resource), headers: [("If-Match", "W/\"1\"")])
            #expect(off.status == 200 && off.json?["status"]?.stringValue == "off", "\(off.text)")
            let dispatcher = dispatcher(server, trusting: server.caFile)
            _ = try await createObservation(server, patientID, token: patientToken)
            #expect(try await dispatcher.run() == 0)
            #expect(receiver.requests.isEmpty)
            resource["status"] = "requested"
            let on = try await server.request(
                "PUT", "/fhir/Subscription/\(subscriptionID)", token: token, json: .object(resource), headers: [("If-Match", "W/\"2\"")])
            #expect(on.status == 200 && on.json?["status"]?.stringValue == "active", "\(on.text)")
            let later = try await createObservation(server, patientID, token: patientToken, kilograms: 81)
            #expect(try await dispatcher.run() == 1)
            let ids = receiver.requests.flatMap { JSONParser.parseOrNil($0.body)?["entry"]?.arrayValue ?? [] }.compactMap { $0["resource"]?["id"]?.stringValue }
            #expect(ids == [later], "only what changed after it was started again")
        }
    }

    @Test("Subscription.end: deliveries go on until it, then the server turns the Subscription off; an end already past stores it off; a malformed end is 422", arguments: StoreBackend.allCases)
    func endTurnsOff(_ backend: StoreBackend) async throws {
        try await withSubscriptionServer(backend: backend) { server in
            let (patientID, patientToken, _, token) = try await setUp(server)
            let receiver = try HookReceiver(impersonating: server)
            defer { receiver.stop() }
            var resource = try #require(subscription(endpoint: receiver.url + "/hook").objectValue)
            resource["end"] = .string(FHIRDateTime.format(epochMilliseconds: server.clock.now() + 120_000))
            let created = try await server.request("POST", "/fhir/Subscription", token: token, json: .object(resource))
            #expect(created.status == 201 && created.json?["status"]?.stringValue == "active", "\(created.text)")
            let subscriptionID = try #require(created.json?["id"]?.stringValue)
            let dispatcher = dispatcher(server, trusting: server.caFile)
            _ = try await createObservation(server, patientID, token: patientToken)
            #expect(try await dispatcher.run() == 1, "before its end: delivered")
            server.clock.advance(minutes: 3)
            _ = try await createObservation(server, patientID, token: patientToken, kilograms: 82)
            #expect(try await dispatcher.run() == 0, "after its end: nothing")
            #expect(receiver.requests.count == 1)
            let stored = try #require(try await server.store.read { db in try db.resource(type: "Subscription", id: subscriptionID) })
            #expect(stored.status == "off" && stored.versionID == 2)

            resource["end"] = .string(FHIRDateTime.format(epochMilliseconds: server.clock.now() - 1_000))
            let past = try await server.request("POST", "/fhir/Subscription", token: token, json: .object(resource))
            #expect(past.status == 201 && past.json?["status"]?.stringValue == "off", "\(past.text)")
            resource["end"] = "next spring"
            let malformed = try await server.request("POST", "/fhir/Subscription", token: token, json: .object(resource))
            #expect(malformed.status == 422 && malformed.issueExpression == "Subscription.end", "\(malformed.text)")
        }
    }

    @Test("a change-feed backlog larger than one slice is pruned entirely, slice by slice", arguments: StoreBackend.allCases)
    func prunedInSlices(_ backend: StoreBackend) async throws {
        // A store without a server: a server's own housekeeping prunes the feed too, at start and then
        // every 5 minutes, and would race this test for the backlog.
        try await ServerStoreContractTests().withStore(backend) { store in
            let count = SubscriptionDispatcher.pruneSlice * 2 + 7
            try await store.write { db in
                for index in 0..<count {
                    try db.create(StoredResource(
                        type: "Questionnaire", id: "q\(index)", versionID: 1, lastUpdated: 1, patientID: nil, status: "active", date: nil,
                        priority: nil, json: Array("{}".utf8)))
                }
            }
            #expect(try await store.read { db in try db.changes(after: 0, limit: 10) }.count == 10)
            var settings = SubscriptionSettings()
            settings.interval = nil
            try await SubscriptionDispatcher(store: store, clock: SystemClock(), settings: settings, baseURL: "").pruneFeed()
            #expect(try await store.read { db in try db.changes(after: 0, limit: 10) }.isEmpty)
        }
    }

    @Test("refused: http or other non-https endpoints, bad criteria, a type the client may not read, other channels and payloads, bad headers, transactions", arguments: StoreBackend.allCases)
    func refusals(_ backend: StoreBackend) async throws {
        try await withSubscriptionServer(backend: backend) { server in
            let (_, _, _, token) = try await setUp(server, scopes: "system/Subscription.cruds system/Observation.rs")
            func post(_ resource: JSONValue) async throws -> HTTPResponseData {
                try await server.request("POST", "/fhir/Subscription", token: token, json: resource)
            }
            let http = try await post(subscription(endpoint: "http://127.0.0.1:9/hook"))
            #expect(http.status == 422 && http.text.contains("plain http"), "\(http.text)")
            #expect(try await post(subscription(endpoint: "ftp://example.org/x")).status == 422)
            #expect(try await post(subscription(endpoint: "hook")).status == 422)
            #expect(try await post(subscription(endpoint: "https://user:pw@example.org/x")).status == 422)
            let bad = try await post(subscription(endpoint: "https://example.org/x", criteria: "Observation?nonsense=1"))
            #expect(bad.status == 422 && bad.issueExpression == "Subscription.criteria", "\(bad.text)")
            #expect(try await post(subscription(endpoint: "https://example.org/x", criteria: "Observation?date=yesterday")).status == 422)
            #expect(try await post(subscription(endpoint: "https://example.org/x", criteria: "Observation?_count=5")).status == 422)
            #expect(try await post(subscription(endpoint: "https://example.org/x", criteria: "Nothing?status=active")).status == 422)
            let flags = try await post(subscription(endpoint: "https://example.org/x", criteria: "Flag?status=active"))
            #expect(flags.status == 403, "no scope to read Flag: \(flags.text)")
            #expect(try await post(subscription(endpoint: "https://example.org/x", type: "email")).status == 422)
            #expect(try await post(subscription(endpoint: "https://example.org/x", payload: "application/fhir+xml")).status == 422)
            #expect(try await post(subscription(endpoint: "https://example.org/x", headers: ["X-A: 1\r\nX-B: 2"])).status == 422)
            #expect(try await post(subscription(endpoint: "https://example.org/x", headers: ["no colon"])).status == 422)
            #expect(try await post(subscription(endpoint: "https://example.org/x", headers: ["Content-Type: text/plain"])).status == 422)
            #expect(try await post(subscription(endpoint: "https://example.org/x", headers: (0..<11).map { "X-\($0): v" })).status == 422)
            #expect(try await post(subscription(endpoint: "https://example.org/x", headers: ["X-Big: " + String(repeating: "a", count: 1_100)])).status == 422)
            #expect(try await post(subscription(endpoint: "https://example.org/x", status: "error")).status == 422)
            let idOnly = try await post(subscription(endpoint: "https://example.org/x", payload: nil))
            #expect(idOnly.status == 201 && idOnly.json?["status"]?.stringValue == "active", "\(idOnly.text)")
            let transaction: JSONValue = [
                "resourceType": "Bundle", "type": "transaction",
                "entry": [["resource": subscription(endpoint: "https://example.org/x"), "request": ["method": "POST", "url": "Subscription"]]],
            ]
            let inTransaction = try await server.request("POST", "/fhir", token: token, json: transaction)
            #expect(inTransaction.status == 422 && inTransaction.issueCode == "not-supported", "\(inTransaction.text)")
            let reader = TestEMR()
            let readerID = try await server.register(reader, scopes: "system/Subscription.rs system/Observation.rs")
            let readOnly = try await server.systemToken(reader, clientID: readerID, scope: "system/Subscription.rs system/Observation.rs")
            #expect(try await server.request("POST", "/fhir/Subscription", token: readOnly, json: subscription(endpoint: "https://example.org/x")).status == 403)
        }
    }
}
