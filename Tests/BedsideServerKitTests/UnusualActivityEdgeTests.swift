import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@testable import BedsideServerKit

/// What an adversarial review of the unusual-activity rules found, kept as regressions: activity across
/// an hour's end, addresses rotated within an IPv6 /64, a clock that was ahead, records written just after
/// an hour ended, one broken administrator mailbox, a client reading a new type through `_revinclude`.
@Suite("Unusual activity edge cases")
struct UnusualActivityEdgeTests {
    static let hour: Int64 = 3_600_000

    static func configure(_ configuration: inout ServerConfiguration) {
        configuration.trustedProxies = [AddressRange("127.0.0.0/8")!]
        // The server's own loop runs once at start only: the probes drive the watch themselves.
        configuration.unusualActivity.interval = .seconds(3600)
    }

    static func alerts(_ server: TestServer) async throws -> [SecurityAlert] {
        try await server.store.read { db in try db.securityAlerts(raisedSince: 0) }
    }

    /// Waits for the server's first look (at start) so it does not race the probe.
    static func settle(_ server: TestServer) async throws {
        for _ in 0..<100 {
            if try await server.store.read({ db in try db.watchedUntilHour() }) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func spray(_ server: TestServer, names: [String], from address: String) async throws {
        for email in names {
            let answer = try await server.request(
                "POST", "/auth/login", json: ["username": .string(email), "password": "Winter2026!!x"],
                headers: [("X-Forwarded-For", address)])
            #expect(answer.status == 401, "\(email) from \(address): \(answer.status) \(answer.text)")
        }
    }

    static func moveTo(_ server: TestServer, minute: Int64, second: Int64 = 0) {
        let now = server.clock.now()
        let target = now - now % hour + hour + minute * 60_000 + second * 1000
        server.clock.advance(milliseconds: target - now)
    }

    @Test("18 names sprayed from one address within 3 minutes across an hour's end raise one alert", arguments: StoreBackend.allCases)
    func sprayAcrossHourBoundary(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: Self.configure) { server in
            try await Self.settle(server)
            Self.moveTo(server, minute: 58)
            try await Self.spray(server, names: (0..<9).map { "a\($0)@example.org" }, from: "198.51.100.9")
            server.clock.advance(minutes: 3)
            try await Self.spray(server, names: (0..<9).map { "b\($0)@example.org" }, from: "198.51.100.9")
            let watch = UnusualActivityWatch(store: server.store, clock: server.clock, settings: UnusualActivitySettings())
            try await watch.run()
            let seen = try await Self.alerts(server)
            #expect(seen.map(\.rule) == ["failed-logins-from-address"], "\(seen)")
        }
    }

    @Test("a clinician with no usual hour seeing 58 patients within 2 minutes across an hour's end raises one alert", arguments: StoreBackend.allCases)
    func clinicianAcrossHourBoundary(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: Self.configure) { server in
            try await Self.settle(server)
            Self.moveTo(server, minute: 59, second: 2)
            let start = server.clock.now()
            let events = (0..<58).map { index in
                AuditEvent(
                    at: start + Int64(index) * 2000, actorID: "clinician-x", actorRole: "clinician", action: "read", resourceType: "Patient",
                    resourceID: "p\(index)", patientID: "p\(index)", outcome: "success", httpStatus: 200, remoteAddress: "10.0.0.1",
                    request: "GET /fhir/Patient")
            }
            try await server.store.write { db in try db.append(events) }
            server.clock.advance(minutes: 2)
            try await UnusualActivityWatch(store: server.store, clock: server.clock, settings: UnusualActivitySettings()).run()
            #expect(try await Self.alerts(server).map(\.subject) == ["clinician-x"])
        }
    }

    @Test("45 names sprayed from 5 addresses of one IPv6 /64 raise one alert for the /64; 30 more from 3 other addresses of it keep it one", arguments: StoreBackend.allCases)
    func ipv6Rotation(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: Self.configure) { server in
            try await Self.settle(server)
            Self.moveTo(server, minute: 0, second: 30)
            for host in 1...5 {
                try await Self.spray(server, names: (0..<9).map { "h\(host).n\($0)@example.org" }, from: "2001:db8:1:2::\(host)")
                server.clock.advance(seconds: 61)  // the login budget is per /64 and minute
            }
            let watch = UnusualActivityWatch(store: server.store, clock: server.clock, settings: UnusualActivitySettings())
            try await watch.run()
            let first = try await Self.alerts(server)
            #expect(first.map(\.subject) == ["2001:db8:1:2::/64"], "\(first)")

            for host in 11...13 {
                try await Self.spray(server, names: (0..<10).map { "f\(host).n\($0)@example.org" }, from: "2001:db8:1:2::\(host)")
                server.clock.advance(seconds: 61)
            }
            try await watch.run()
            let raised = try await Self.alerts(server)
            #expect(raised.count == 1 && raised.first?.count == 75, "\(raised.map(\.subject))")
        }
    }

    @Test("after a clock that was a year ahead is put right, the rules look at the current hour again", arguments: StoreBackend.allCases)
    func clockJumpBack(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: Self.configure) { server in
            try await Self.settle(server)
            let watch = UnusualActivityWatch(store: server.store, clock: server.clock, settings: UnusualActivitySettings())
            server.clock.advance(milliseconds: 365 * 24 * Self.hour)
            try await watch.run()
            server.clock.advance(milliseconds: -365 * 24 * Self.hour)
            try await Self.spray(server, names: (0..<12).map { "j\($0)@example.org" }, from: "198.51.100.30")
            try await watch.run()
            let watched = try await server.store.read { db in try db.watchedUntilHour() } ?? 0
            #expect(watched <= server.clock.now())
            let seen = try await Self.alerts(server)
            #expect(seen.map(\.rule) == ["failed-logins-from-address"], "\(seen)")
        }
    }

    @Test("failed logins stamped in an hour but written just after the first look of the next are still counted", arguments: StoreBackend.allCases)
    func lateCommitAcrossBoundary(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: Self.configure) { server in
            try await Self.settle(server)
            Self.moveTo(server, minute: 0, second: 1)
            let watch = UnusualActivityWatch(store: server.store, clock: server.clock, settings: UnusualActivitySettings())
            try await watch.run()
            // Stamped 10:59:59.5 (the login's `now`, before its scrypt check), written after the look at 11:00:01.
            let stamped = server.clock.now() - 1500
            let late = (0..<12).map { index in
                AuditEvent(
                    at: stamped, actorID: nil, actorRole: nil, action: "login-failure", resourceType: "login-name", resourceID: "pseudonym\(index)",
                    outcome: "failure", httpStatus: 401, remoteAddress: "198.51.100.40", request: "POST /auth/login")
            }
            try await server.store.write { db in try db.append(late) }
            server.clock.advance(minutes: 1)
            try await watch.run()
            let seen = try await Self.alerts(server)
            #expect(seen.map(\.rule) == ["failed-logins-from-address"], "\(seen)")
        }
    }

    final class RecordingMailer: Mailer {
        let sent = Mutex<[MailMessage]>([])
        func send(_ message: MailMessage) async throws {
            if message.to.hasPrefix("broken") { throw TestFailure("mailbox unavailable") }
            sent.withLock { $0.append(message) }
        }
    }

    @Test("one administrator's failed delivery does not send the alert again to the others; the failed one is tried again later", arguments: StoreBackend.allCases)
    func mailResentToEveryone(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: Self.configure) { server in
            try await Self.settle(server)
            _ = try await server.administration.addUser(email: "good.admin@example.org", role: .admin, password: TestServer.password, name: "Good")
            _ = try await server.administration.addUser(email: "broken.admin@example.org", role: .admin, password: TestServer.password, name: "Broken")
            try await Self.spray(server, names: (0..<10).map { "m\($0)@example.org" }, from: "198.51.100.50")
            let mailer = RecordingMailer()
            let watch = UnusualActivityWatch(
                store: server.store, clock: server.clock, settings: UnusualActivitySettings(), mailer: mailer, logger: Logger(label: "probe"))
            for _ in 0..<5 {
                try await watch.run()
                server.clock.advance(minutes: 1)
            }
            let toGood = mailer.sent.withLock { $0 }.filter { $0.to == "good.admin@example.org" }
            #expect(try await Self.alerts(server).count == 1)
            #expect(toGood.count == 1, "the same alert mailed \(toGood.count) times")
            let mails = try await server.store.read { db in try db.alertMails(raisedSince: 0) }
            #expect(mails.count == 2 && mails.filter { $0.mailedAt == nil }.count == 1, "the broken one kept to try again")
        }
    }

    @Test("a backend client that only searched Patients and then pulls Observations with _revinclude raises an alert", arguments: StoreBackend.allCases)
    func revincludeHidesNewUse(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: Self.configure) { server in
            try await Self.settle(server)
            let patient = try await server.addPatient("rev.patient@example.org")
            let patientID = try #require(patient.patientID)
            let own = try await server.login("rev.patient@example.org").token
            #expect(try await server.request("POST", "/fhir/Observation", token: own, json: server.weight(81, patientID: patientID)).status == 201)
            let scopes = "system/Observation.rs system/Patient.rs"
            let emr = TestEMR()
            let clientID = try await server.register(emr, scopes: scopes, name: "Rev EMR")
            var token = try await server.systemToken(emr, clientID: clientID, scope: scopes)
            #expect(try await server.request("GET", "/fhir/Patient?_id=\(patientID)", token: token).status == 200)
            server.clock.advance(milliseconds: 8 * 24 * Self.hour)
            token = try await server.systemToken(emr, clientID: clientID, scope: scopes)
            let pulled = try await server.request("GET", "/fhir/Patient?_revinclude=Observation:patient", token: token)
            let types = pulled.entries.compactMap { $0["resource"]?["resourceType"]?.stringValue }
            #expect(types.contains("Observation"), "\(pulled.text)")
            await server.running.flushAudit()
            let watch = UnusualActivityWatch(store: server.store, clock: server.clock, settings: UnusualActivitySettings())
            try await watch.run()
            let raised = try await Self.alerts(server)
            #expect(raised.map(\.rule) == ["client-new-use"] && raised.first?.detail.contains("search Observation") == true, "\(raised)")
        }
    }
}
