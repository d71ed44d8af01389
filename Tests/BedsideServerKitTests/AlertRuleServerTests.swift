import BedsideCore
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

    @Test("a red blood pressure raises one red Flag; an orange one next updates it (still red, version 2); after it is handled a new one starts")
    func thresholdsAndDeduplication() async throws {
        try await withServer { server in
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

    @Test("a patient in the heart-failure programme gets an orange Flag for +2 kg in 3 days; the same weights in default do not")
    func programmeTrend() async throws {
        try await withServer { server in
            let hf = try #require(try await server.addPatient("hf@example.org").patientID)
            let plain = try #require(try await server.addPatient("plain@example.org").patientID)
            try await server.administration.setProgramme("heart-failure", patientEmail: "hf@example.org")
            #expect(try await server.administration.rules(patientEmail: "hf@example.org").programme == "heart-failure")
            #expect(try await server.administration.rules(patientEmail: "plain@example.org").programme == "default")
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
}
