import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// The unusual-activity rules, each fed real requests through the real server: one that should alert,
/// and a similar one that should not.
@Suite("Unusual activity")
struct UnusualActivityTests {
    static let hour: Int64 = 3_600_000

    static func alerts(_ server: TestServer) async throws -> [SecurityAlert] {
        try await server.store.read { db in try db.securityAlerts(raisedSince: 0) }
    }

    /// A clinician's reads of `count` patients in each of `hours` earlier hours: their usual.
    static func history(_ server: TestServer, clinician: Account, patients: [String], hours: Int) async throws {
        let now = server.clock.now()
        var events: [AuditEvent] = []
        for hour in 1...hours {
            for patient in patients {
                events.append(AuditEvent(
                    at: now - Int64(hour) * 5 * Self.hour, actorID: clinician.id, actorRole: "clinician", action: "search",
                    resourceType: "Patient", patientID: patient, outcome: "success", httpStatus: 200, remoteAddress: "127.0.0.1",
                    request: "GET /fhir/Patient"))
            }
        }
        try await server.store.write { [events] db in try db.append(events) }
    }

    @Test("a clinician seeing 35 patients in an hour, 3 in their usual hour, raises one alert; one whose usual hour is 35 does not", arguments: StoreBackend.allCases)
    func clinicianSeesManyMorePatients(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            var patients: [String] = []
            let busy = try await server.addClinician("nurse.busy@example.org")
            let usual = try await server.addClinician("nurse.usual@example.org")
            for index in 0..<35 {
                let email = "ward.patient\(index)@example.org"
                patients.append(try #require(try await server.addPatient(email).patientID))
                try await server.administration.addTeamMember(clinicianEmail: "nurse.busy@example.org", patientEmail: email)
                try await server.administration.addTeamMember(clinicianEmail: "nurse.usual@example.org", patientEmail: email)
            }
            try await Self.history(server, clinician: busy, patients: Array(patients.prefix(3)), hours: 20)
            try await Self.history(server, clinician: usual, patients: patients, hours: 20)

            for nurse in ["nurse.busy@example.org", "nurse.usual@example.org"] {
                let token = try await server.login(nurse).token
                let seen = try await server.request("GET", "/fhir/Patient?_count=100", token: token)
                #expect(seen.entries.count == 35)
            }
            await server.running.flushAudit()
            let watch = UnusualActivityWatch(store: server.store, clock: server.clock, settings: UnusualActivitySettings())
            let raised = try await watch.run()
            #expect(raised.map(\.rule) == ["clinician-patients"])
            #expect(raised.first?.subject == busy.id && raised.first?.count == 35 && raised.first?.threshold == 30)
            #expect(raised.first?.detail.contains("their usual busy hour in the two weeks before: 3") == true)
            #expect(try await watch.run().isEmpty, "raised once per clinician and hour")
            #expect(try await Self.alerts(server).count == 1)
            let audited = try await server.store.read { db in try db.auditEvents(after: 0, limit: 100_000) }.map(\.event).filter { $0.action == "unusual-activity" }
            #expect(audited.count == 1 && audited.first?.resourceID == busy.id && audited.first?.patientID == nil)

            // With a factor of 1, their usual hour is enough: the other clinician's 35 alert too (the current
            // hour is looked at again at each run until it is over).
            var strict = UnusualActivitySettings()
            strict.patientsPerHourFactor = 1
            let stricter = try await UnusualActivityWatch(store: server.store, clock: server.clock, settings: strict).run()
            #expect(stricter.map(\.subject) == [usual.id] && stricter.first?.threshold == 35)
        }
    }

    @Test("failed logins for 12 accounts from one address raise an alert (mailed to the administrator in their language, listed by audit alerts); 4 from another do not", arguments: StoreBackend.allCases)
    func failedLoginsFromOneAddress(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: { configuration in
            configuration.trustedProxies = [try! #require(AddressRange("127.0.0.0/8"))]
            configuration.unusualActivity.interval = .milliseconds(200)
        }) { server in
            _ = try await server.administration.addUser(
                email: "security.admin@example.org", role: .admin, password: TestServer.password, name: "Sec Admin", language: "nl")
            try await server.addPatient("real.one@example.org")
            try await server.addPatient("real.two@example.org")
            let sprayed = ["real.one@example.org", "real.two@example.org"] + (0..<10).map { "guess\($0)@example.org" }
            for email in sprayed {
                let answer = try await server.request(
                    "POST", "/auth/login", json: ["username": .string(email), "password": "Winter2026!!x"],
                    headers: [("X-Forwarded-For", "198.51.100.7")])
                #expect(answer.status == 401, "\(answer.text)")
            }
            for index in 0..<4 {
                _ = try await server.request(
                    "POST", "/auth/login", json: ["username": .string("typo\(index)@example.org"), "password": "wrong-password-1"],
                    headers: [("X-Forwarded-For", "203.0.113.5")])
            }
            // The server's own watch raises it and mails it.
            let deadline = ContinuousClock.now + .seconds(20)
            var alerts: [SecurityAlert] = []
            while ContinuousClock.now < deadline {
                alerts = try await Self.alerts(server)
                if alerts.first?.mailedAt != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(alerts.map(\.rule) == ["failed-logins-from-address"])
            // Raised by the first watch that saw 10 accounts: on a slow machine it can run between the
            // 10th login and the 12th, and the alert counts what it saw then.
            #expect(alerts.first?.subject == "198.51.100.7" && (10...12).contains(alerts.first?.count ?? 0), "\(alerts)")
            #expect(alerts.first?.mailedAt != nil)
            let mail = server.directory.appendingPathComponent("mail/new")
            let messages = try FileManager.default.contentsOfDirectory(atPath: mail.path).map {
                try String(contentsOf: mail.appendingPathComponent($0), encoding: .utf8)
            }
            let alertMail = messages.filter { $0.contains("security.admin@example.org") && $0.contains("ongebruikelijke activiteit") }
            #expect(alertMail.count == 1)
            #expect(alertMail.first?.contains("198.51.100.7") == true)

            // The command line lists it, exit 3.
            let listed = try await ServerExecutable.run(["audit", "alerts", "--json", "--days", "3650"] + server.server.commandArguments)
            #expect(listed.status == 3, "\(listed.error)")
            let lines = listed.output.split(separator: "\n").compactMap { JSONParser.parseOrNil(Array($0.utf8)) }
            #expect(lines.count == 1 && lines.first?["rule"]?.stringValue == "failed-logins-from-address")
        }
    }

    /// The whole login of `email` as seen from `address` (behind the trusted proxy).
    static func login(_ server: TestServer, _ email: String, from address: String) async throws {
        let first = try await server.request(
            "POST", "/auth/login", json: ["username": .string(email), "password": .string(TestServer.password)],
            headers: [("X-Forwarded-For", address)])
        let challenge = try #require(first.json?["challenge"]?.stringValue, "\(first.text)")
        let second = try await server.request(
            "POST", "/auth/otp", json: ["challenge": .string(challenge), "code": .string(try server.latestCode(for: email))],
            headers: [("X-Forwarded-For", address)])
        #expect(second.status == 200, "\(second.text)")
    }

    @Test("logins to one account from 6 addresses in an hour raise an alert; another account's logins from 2 addresses do not", arguments: StoreBackend.allCases)
    func loginsFromManyAddresses(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: { configuration in
            configuration.trustedProxies = [try! #require(AddressRange("127.0.0.0/8"))]
            configuration.withoutDefaultBudgets()
        }) { server in
            let shared = try await server.addPatient("shared.password@example.org")
            try await server.addPatient("home.and.work@example.org")
            for index in 1...6 { try await Self.login(server, "shared.password@example.org", from: "192.0.2.\(index)") }
            for address in ["192.0.2.50", "192.0.2.51", "192.0.2.50"] { try await Self.login(server, "home.and.work@example.org", from: address) }
            await server.running.flushAudit()
            let raised = try await UnusualActivityWatch(store: server.store, clock: server.clock, settings: UnusualActivitySettings()).run()
            #expect(raised.map(\.rule) == ["login-addresses"])
            #expect(raised.first?.subject == shared.id && raised.first?.count == 6)
        }
    }

    @Test("a backend client that searched Observations for 8 days and then reads Patients raises an alert; a client in its first days does not", arguments: StoreBackend.allCases)
    func clientDoesWhatItNeverDid(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("emr.patient@example.org")
            let patientID = try #require(patient.patientID)
            let scopes = "system/Observation.rs system/Patient.rs"
            let settled = TestEMR()
            let settledID = try await server.register(settled, scopes: scopes, name: "Settled EMR")
            var token = try await server.systemToken(settled, clientID: settledID, scope: scopes)
            #expect(try await server.request("GET", "/fhir/Observation?patient=\(patientID)", token: token).status == 200)

            server.clock.advance(milliseconds: 8 * 24 * Self.hour)
            let newcomer = TestEMR()
            let newcomerID = try await server.register(newcomer, scopes: scopes, name: "New EMR")
            let newcomerToken = try await server.systemToken(newcomer, clientID: newcomerID, scope: scopes)
            #expect(try await server.request("GET", "/fhir/Patient/\(patientID)", token: newcomerToken).status == 200)
            token = try await server.systemToken(settled, clientID: settledID, scope: scopes)
            #expect(try await server.request("GET", "/fhir/Observation?patient=\(patientID)", token: token).status == 200)
            await server.running.flushAudit()
            let watch = UnusualActivityWatch(store: server.store, clock: server.clock, settings: UnusualActivitySettings())
            #expect(try await watch.run().isEmpty, "what it always did, and a newcomer's first days")

            #expect(try await server.request("GET", "/fhir/Patient/\(patientID)", token: token).status == 200)
            await server.running.flushAudit()
            let raised = try await watch.run()
            #expect(raised.map(\.rule) == ["client-new-use"])
            #expect(raised.first?.subject == settledID && raised.first?.detail.contains("read Patient") == true)
        }
    }
}
