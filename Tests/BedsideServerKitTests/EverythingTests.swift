import BedsideCore
import BedsideTestSupport
import Testing

@testable import BedsideServerKit

/// `Patient/[id]/$everything`: the patient and their compartment, paged, for those who may read them.
@Suite("Patient $everything")
struct EverythingTests {
    @Test("the patient and their care team get the Patient and everything of theirs, paged with a next link; others 404", arguments: StoreBackend.allCases)
    func everything(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("whole@example.org")
            _ = try await server.addPatient("other@example.org")
            _ = try await server.addClinician("nurse.whole@example.org", patients: ["whole@example.org"])
            _ = try await server.addClinician("nurse.other@example.org", patients: ["other@example.org"])
            let patientID = try #require(patient.patientID)
            let token = try await server.login("whole@example.org").token
            for kilograms in [80.0, 81, 82, 83, 84] {
                #expect(try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(kilograms, patientID: patientID)).status == 201)
            }
            let all = try await server.request("GET", "/fhir/Patient/\(patientID)/$everything", token: token)
            #expect(all.status == 200, "\(all.text)")
            #expect(all.json?["total"]?.intValue == 7)
            let types = all.entries.compactMap { $0["resource"]?["resourceType"]?.stringValue }
            #expect(types == ["Patient"] + Array(repeating: "Observation", count: 5) + ["CareTeam"], "team add made the CareTeam")

            var seen: [String] = []
            var next: String? = "/fhir/Patient/\(patientID)/$everything?_count=4"
            while let path = next {
                let page = try await server.request("GET", path, token: token)
                #expect(page.status == 200)
                seen += page.entries.compactMap { $0["resource"]?["id"]?.stringValue }
                next = page.json?["link"]?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue
                    .map { String($0.dropFirst(server.baseURL.count)) }
            }
            #expect(seen.count == 7 && Set(seen).count == 7, "every resource once: \(seen)")

            let nurse = try await server.login("nurse.whole@example.org").token
            #expect(try await server.request("GET", "/fhir/Patient/\(patientID)/$everything", token: nurse).json?["total"]?.intValue == 7)
            let stranger = try await server.login("nurse.other@example.org").token
            #expect(try await server.request("GET", "/fhir/Patient/\(patientID)/$everything", token: stranger).status == 404)
            #expect(try await server.request("GET", "/fhir/Patient/\(patientID)/$everything?code=x", token: token).status == 400)
        }
    }
}
