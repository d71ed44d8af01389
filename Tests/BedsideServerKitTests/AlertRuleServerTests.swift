import BedsideCore
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// Measurements arriving at the server raise Flags by the patient's programme's rules: one open Flag per
/// patient and rule, updated rather than repeated, a new one after a nurse handled the last.
@Suite("Alert rules on the server")
struct AlertRuleServerTests {
    func bloodPressure(_ server: TestServer, _ systolic: Double, patientID: String) -> JSONValue {
        ObservationBuilder.observation(
            kind: .bloodPressure, values: [.init(part: .systolic, value: systolic), .init(part: .diastolic, value: 90)], effective: server.now(),
            patientID: patientID, clientID: UUID().uuidString.lowercased())
    }

    func openFlags(_ server: TestServer, token: String) async throws -> [JSONValue] {
        try await server.request("GET", "/fhir/Flag?status=active&_sort=-priority", token: token).entries.compactMap { $0["resource"] }
    }

    @Test("a red blood pressure raises one red Flag; an orange one next updates it (still red, version 2); after it is handled a new one starts", arguments: StoreBackend.allCases)
    func thresholdsAndDeduplication(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("otto@example.org").patientID)
            try await server.addClinician("nurse.otto@example.org", patients: ["otto@example.org"])
            var token = try await server.login("otto@example.org").token
            var nurse = try await server.login("nurse.otto@example.org").token
            #expect(try await server.request("POST", "/fhir", token: token, json: server.transaction([bloodPressure(server, 185, patientID: patientID)])).status == 200)
            var flags = try await openFlags(server, token: nurse)
            #expect(flags.count == 1)
            let first = try #require(flags.first)
            #expect(FlagPriority(flag: first) == .red)
            #expect(first["code"]?["text"]?.stringValue == "Systolic blood pressure 185 mmHg (≥ 180)")
            #expect(ResourceValidator(now: server.clock.now()).validate(first, as: "Flag").isEmpty)

            // An hour later (sessions end after 30 idle minutes: both log in again).
            server.clock.advance(milliseconds: 3_600_000)
            token = try await server.login("otto@example.org").token
            nurse = try await server.login("nurse.otto@example.org").token
            #expect(try await server.request("POST", "/fhir", token: token, json: server.transaction([bloodPressure(server, 165, patientID: patientID)])).status == 200)
            flags = try await openFlags(server, token: nurse)
            #expect(flags.count == 1)
            #expect(flags.first?["id"] == first["id"])
            #expect(flags.first?["meta"]?["versionId"]?.stringValue == "2")
            #expect(FlagPriority(flag: try #require(flags.first)) == .red, "never lowered within an episode")
            #expect(flags.first?["code"]?["text"]?.stringValue == "Systolic blood pressure 165 mmHg (≥ 160)")
            #expect(flags.first?["period"]?["start"] == first["period"]?["start"])

            // A nurse handles it; the next high reading is a new episode.
            let handled = FlagTriage.apply(.handle, note: "Called", by: "Nurse", at: server.clock.now(), to: try #require(flags.first))
            #expect(try await server.request("PUT", "/fhir/Flag/\(first["id"]?.stringValue ?? "")", token: nurse, json: handled, headers: [("If-Match", "W/\"2\"")]).status == 200)
            #expect(try await server.request("POST", "/fhir", token: token, json: server.transaction([bloodPressure(server, 182, patientID: patientID)])).status == 200)
            flags = try await openFlags(server, token: nurse)
            #expect(flags.count == 1)
            #expect(flags.first?["id"] != first["id"])
            let actions = try await server.store.read { db in try db.auditEvents(after: 0, limit: 1000) }.map(\.event.action)
            #expect(actions.filter { $0 == "flag-raised" }.count == 2 && actions.filter { $0 == "flag-updated" }.count == 1)
        }
    }

    @Test("a patient in the heart-failure programme gets an orange Flag for +2 kg in 3 days; the same weights in default do not", arguments: StoreBackend.allCases)
    func programmeTrend(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let hf = try #require(try await server.addPatient("hf@example.org").patientID)
            let plain = try #require(try await server.addPatient("plain@example.org").patientID)
            try await server.administration.setProgramme("heart-failure", patientEmail: "hf@example.org")
            #expect(try await server.administration.rules(patientEmail: "hf@example.org").rules.programme == "heart-failure")
            #expect(try await server.administration.rules(patientEmail: "plain@example.org").rules.programme == "default")
            await #expect(throws: AdministrationError.self) { try await server.administration.setProgramme("cardio", patientEmail: "hf@example.org") }
            try await server.addClinician("nurse.hf@example.org", patients: ["hf@example.org", "plain@example.org"])
            for (email, patientID) in [("hf@example.org", hf), ("plain@example.org", plain)] {
                for weight in [79.0, 79.4, 81.3] {
                    let token = try await server.login(email).token
                    #expect(try await server.request("POST", "/fhir", token: token, json: server.transaction([server.weight(weight, patientID: patientID)])).status == 200)
                    server.clock.advance(milliseconds: 86_400_000)
                }
            }
            let flags = try await openFlags(server, token: try await server.login("nurse.hf@example.org").token)
            #expect(flags.count == 1)
            #expect(flags.first?["subject"]?["reference"]?.stringValue == "Patient/\(hf)")
            #expect(FlagPriority(flag: try #require(flags.first)) == .orange)
            #expect(flags.first?["code"]?["text"]?.stringValue == "Body weight +2.3 kg within 3 days (79 → 81.3 kg)")
        }
    }

    @Test("a reading reads history only for the trends that judge it: a heart-failure weight three days, its heart rate none")
    func historyOnlyForTrends() throws {
        let rules = try #require(VitalSignRules.programme("heart-failure"))
        func record(_ kind: MeasurementKind, _ part: MeasurementPart, _ value: Double) throws -> MeasurementRecord {
            let json = ObservationBuilder.observation(
                kind: kind, values: [.init(part: part, value: value)], effective: "2026-12-01T08:00:00Z", patientID: "p", clientID: "c")
            return try #require(JSONParser.parseOrNil(FHIRService.stamp(json, type: .observation, id: "o", version: 1, at: 0).json).flatMap(ObservationReader.record(from:)))
        }
        #expect(rules.trendDays(for: try record(.bodyWeight, .bodyWeight, 80)) == 3)
        #expect(rules.trendDays(for: try record(.heartRate, .heartRate, 70)) == 0)
        #expect(try #require(VitalSignRules.programme("default")).trendDays(for: try record(.bodyWeight, .bodyWeight, 80)) == 0)
    }

    @Test("a patient's own rules (a lower systolic band) decide their alerts; wrong rules are refused naming each problem and change nothing; a programme replaces them", arguments: StoreBackend.allCases)
    func ownRules(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let own = try #require(try await server.addPatient("own@example.org").patientID)
            let plain = try #require(try await server.addPatient("plain@example.org").patientID)
            try await server.addClinician("nurse.own@example.org", patients: ["own@example.org", "plain@example.org"])
            var rules = try #require(VitalSignRules.programme("heart-failure"))
            let systolic = try #require(rules.thresholds.firstIndex { $0.id == "systolic" })
            rules.thresholds[systolic].orangeAtOrAbove = 140
            rules.thresholds[systolic].redAtOrAbove = 150
            try await server.administration.setOwnRules(rules, patientEmail: "own@example.org")
            let current = try await server.administration.rules(patientEmail: "own@example.org")
            #expect(current.own && current.rules == rules)

            // Wrong rules: every problem named, the Patient untouched.
            let version = try await server.store.read { db in try db.resource(type: "Patient", id: own)?.versionID }
            var wrong = rules
            wrong.thresholds[systolic].redAtOrAbove = 130
            wrong.thresholds.append(ThresholdRule(id: "systolic", part: "1234-5", redAtOrAbove: 1))
            wrong.trends[0].withinDays = 0
            do {
                try await server.administration.setOwnRules(wrong, patientEmail: "own@example.org")
                Issue.record("wrong rules were kept")
            } catch let error as AdministrationError {
                let text = "\(error)"
                #expect(text.contains("thresholds[\(systolic)] (systolic): redAtOrAbove (130) must not be below orangeAtOrAbove (140)."))
                #expect(text.contains("the id 'systolic' is used twice"))
                #expect(text.contains("part '1234-5' is not a LOINC code"))
                #expect(text.contains("trends[0] (weight-gain): withinDays must be 1 to 30 (it is 0)."))
            }
            #expect(try await server.store.read { db in try db.resource(type: "Patient", id: own)?.versionID } == version)

            for (email, patientID) in [("own@example.org", own), ("plain@example.org", plain)] {
                let token = try await server.login(email).token
                #expect(try await server.request("POST", "/fhir", token: token, json: server.transaction([bloodPressure(server, 155, patientID: patientID)])).status == 200)
            }
            let flags = try await openFlags(server, token: try await server.login("nurse.own@example.org").token)
            #expect(flags.count == 1, "155 is ordinary by the programme's rules")
            #expect(flags.first?["subject"]?["reference"]?.stringValue == "Patient/\(own)")
            #expect(FlagPriority(flag: try #require(flags.first)) == .red)
            #expect(flags.first?["code"]?["text"]?.stringValue == "Systolic blood pressure 155 mmHg (≥ 150)")

            try await server.administration.setProgramme("heart-failure", patientEmail: "own@example.org")
            let back = try await server.administration.rules(patientEmail: "own@example.org")
            #expect(!back.own && back.rules == VitalSignRules.programme("heart-failure"))
        }
    }

    @Test("Patient?_has:Flag:patient:status=active lists the care team's patients with an open alert, no one else's; a malformed _has is a 400", arguments: StoreBackend.allCases)
    func patientsWithAlerts(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let red = try #require(try await server.addPatient("red@example.org").patientID)
            let calm = try #require(try await server.addPatient("calm@example.org").patientID)
            let other = try #require(try await server.addPatient("other@example.org").patientID)
            try await server.addClinician("nurse.has@example.org", patients: ["red@example.org", "calm@example.org"])
            for (email, patientID, systolic) in [("red@example.org", red, 185.0), ("calm@example.org", calm, 120), ("other@example.org", other, 190)] {
                let token = try await server.login(email).token
                #expect(try await server.request("POST", "/fhir", token: token, json: server.transaction([bloodPressure(server, systolic, patientID: patientID)])).status == 200)
            }
            let nurse = try await server.login("nurse.has@example.org").token
            let having = try await server.request("GET", "/fhir/Patient?_has:Flag:patient:status=active", token: nurse)
            #expect(having.status == 200)
            #expect(having.entries.compactMap { $0["resource"]?["id"]?.stringValue } == [red], "not the calm one, nor another team's")
            let all = try await server.request("GET", "/fhir/Patient", token: nurse).entries.compactMap { $0["resource"]?["id"]?.stringValue }
            #expect(Set(all) == [red, calm])
            let none = try await server.request("GET", "/fhir/Patient?_has:Flag:patient:status=inactive", token: nurse)
            #expect(none.status == 200 && none.entries.isEmpty)
            for bad in ["/fhir/Patient?_has:Device:patient:status=active", "/fhir/Patient?_has:Flag:author:status=active",
                        "/fhir/Observation?_has:Flag:patient:status=active", "/fhir/Patient?_has:Flag:patient:colour=red"] {
                #expect(try await server.request("GET", bad, token: nurse).status == 400, "\(bad)")
            }
        }
    }

    @Test("the scheduler: no measurement for 3 days, and a questionnaire past its due date, raise Flags once; a rerun writes nothing", arguments: StoreBackend.allCases)
    func overdue(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("ola@example.org").patientID)
            try await server.addClinician("nurse.ola@example.org", patients: ["ola@example.org"])
            let token = try await server.login("ola@example.org").token
            #expect(try await server.request("POST", "/fhir", token: token, json: server.transaction([server.weight(70, patientID: patientID)])).status == 200)
            let form: JSONValue = [
                "resourceType": "Questionnaire", "status": "active", "title": "COPD check-in",
                "item": [["linkId": "1", "text": "More breathless?", "type": "boolean"]],
            ]
            _ = try await server.administration.assign(
                questionnaire: form, patientEmail: "ola@example.org",
                due: FHIRDateTime(FHIRDateTime.format(epochMilliseconds: server.clock.now() + 86_400_000)))
            let scheduler = AlertScheduler(store: server.store, clock: server.clock)
            #expect(try await scheduler.run() == 0, "nothing is late yet")

            server.clock.advance(milliseconds: 73 * 3_600_000)
            #expect(try await scheduler.run() == 2)
            #expect(try await scheduler.run() == 0, "a rerun writes nothing")
            let flags = try await server.request("GET", "/fhir/Flag?status=active&_sort=-priority", token: try await server.login("nurse.ola@example.org").token)
                .entries.compactMap { $0["resource"] }
            let texts = flags.compactMap { $0["code"]?["text"]?.stringValue }.sorted()
            #expect(texts.count == 2)
            #expect(texts.contains { $0.hasPrefix("No measurement for 3 days (last ") })
            #expect(texts.contains { $0.hasPrefix("Questionnaire overdue: COPD check-in (due ") })
            #expect(flags.allSatisfy { ResourceValidator(now: server.clock.now()).validate($0, as: "Flag").isEmpty })
        }
    }
}

@Suite("Demo data")
struct DemoSeedTests {
    @Test("the demo's patients are in their programmes and their deteriorating readings have raised alerts for the kiosk", arguments: StoreBackend.allCases)
    func demoHasAlerts(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let logins = try await DemoSeeder(administration: server.administration).seed(days: 14)
            let nurse = try #require(logins.first { $0.role == .clinician })
            #expect(try await server.administration.rules(patientEmail: "marie@demo.bedside.test").rules.programme == "heart-failure")
            let token = try await server.login(nurse.email, password: nurse.password).token
            let flags = try await server.request("GET", "/fhir/Flag?status=active&_sort=-priority", token: token).entries.compactMap { $0["resource"] }
            #expect(!flags.isEmpty)
            #expect(flags.allSatisfy { ResourceValidator(now: server.clock.now()).validate($0, as: "Flag").isEmpty })
            let keys = flags.map { "\($0["subject"]?["reference"]?.stringValue ?? "")/\(FlagBuilder.rule(of: $0) ?? "")" }
            #expect(Set(keys).count == keys.count, "one open Flag per patient and rule: \(keys.sorted())")
        }
    }
}
