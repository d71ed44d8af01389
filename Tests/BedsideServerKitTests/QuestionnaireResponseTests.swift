import BedsideCore
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// Answers arriving at the server: the assignment completes, PHQ-9 answers raise a Flag for the care
/// team, and a replayed upload changes nothing.
@Suite("Questionnaire responses on the server")
struct QuestionnaireResponseTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/Questionnaires").standardized

    static func fixture(_ name: String) throws -> JSONValue {
        try JSONParser.parse(Array(try Data(contentsOf: directory.appendingPathComponent(name))))
    }

    static func phq9(_ codes: [String]) -> JSONValue {
        .object(JSONObject(codes.enumerated().map { (key: "H1/T1/Q\($0 + 1)", value: JSONValue.string($1)) }))
    }

    /// A transaction with one completed response to `form`, answered by `answers`, based on `taskID`.
    static func upload(
        _ form: JSONValue, answers: JSONValue, patientID: String, taskID: String, clientID: String = UUID().uuidString.lowercased(),
        authored: String
    ) throws -> JSONValue {
        let fill = try QuestionnaireFill(try Questionnaire(json: form), answers: answers)
        var response = fill.response(subject: "Patient/\(patientID)", authored: authored, basedOn: "Task/\(taskID)").objectValue ?? [:]
        response["identifier"] = ["system": "urn:ietf:rfc:3986", "value": .string("urn:uuid:\(clientID)")]
        return [
            "resourceType": "Bundle", "type": "transaction",
            "entry": [[
                "fullUrl": .string("urn:uuid:\(clientID)"), "resource": .object(response),
                "request": [
                    "method": "POST", "url": "QuestionnaireResponse", "ifNoneExist": .string("identifier=urn:ietf:rfc:3986|urn:uuid:\(clientID)"),
                ],
            ]],
        ]
    }

    func tasks(_ server: TestServer, token: String, patientID: String, status: String) async throws -> [JSONValue] {
        try await server.request("GET", "/fhir/Task?owner=Patient/\(patientID)&status=\(status)", token: token).entries.compactMap { $0["resource"] }
    }

    func flags(_ server: TestServer, token: String) async throws -> [JSONValue] {
        try await server.request("GET", "/fhir/Flag?status=active&_sort=-priority", token: token).entries.compactMap { $0["resource"] }
    }

    @Test("the due assignment is found; answering it completes it once; a replay adds no response, Task version or Flag", arguments: StoreBackend.allCases)
    func completesTask(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("ida@example.org")
            let patientID = try #require(patient.patientID)
            try await server.addClinician("nurse.ida@example.org", patients: ["ida@example.org"])
            let form = try Self.fixture("phq-9-sdc.json")
            let (_, taskID) = try await server.administration.assign(
                questionnaire: form, patientEmail: "ida@example.org", due: FHIRDateTime("2026-11-20"))
            let token = try await server.login("ida@example.org").token
            let open = try await tasks(server, token: token, patientID: patientID, status: "requested")
            #expect(open.count == 1)
            #expect(open.first?["restriction"]?["period"]?["end"]?.stringValue == "2026-11-20")

            let bundle = try Self.upload(
                form, answers: Self.phq9(Array(repeating: "Nearly every day", count: 9)), patientID: patientID, taskID: taskID,
                authored: server.now())
            let first = try await server.request("POST", "/fhir", token: token, json: bundle)
            #expect(first.status == 200, "\(first.text)")
            #expect(try await tasks(server, token: token, patientID: patientID, status: "requested").isEmpty)
            let done = try #require(try await tasks(server, token: token, patientID: patientID, status: "completed").first)
            #expect(done["meta"]?["versionId"]?.stringValue == "2")
            let location = first.entries.first?["response"]?["location"]?.stringValue ?? ""
            let responseID = location.split(separator: "/").dropFirst().first.map(String.init) ?? "?"
            #expect(done["output"]?.arrayValue?.first?["valueReference"]?["reference"]?.stringValue == "QuestionnaireResponse/\(responseID)")

            let nurse = try await server.login("nurse.ida@example.org").token
            let raised = try await flags(server, token: nurse)
            #expect(raised.count == 1)
            let flag = try #require(raised.first)
            #expect(FlagPriority(flag: flag) == .red)
            #expect(flag["code"]?["text"]?.stringValue?.contains("PHQ-9 total 27") == true)
            #expect(flag["subject"]?["reference"]?.stringValue == "Patient/\(patientID)")
            #expect(ResourceValidator(now: server.clock.now()).validate(flag, as: "Flag").isEmpty)
            let detail = flag["extension"]?.arrayValue?.first { $0["url"]?.stringValue == FlagBuilder.detailExtensionURL }
            #expect(detail?["valueReference"]?["reference"]?.stringValue == "QuestionnaireResponse/\(responseID)")
            // A nurse outside the patient's care team does not see it.
            try await server.addClinician("nurse.other@example.org")
            #expect(try await flags(server, token: try await server.login("nurse.other@example.org").token).isEmpty)

            // The same upload again (its answer was lost): the same response, nothing new.
            let again = try await server.request("POST", "/fhir", token: token, json: bundle)
            #expect(again.status == 200)
            #expect(again.entries.first?["response"]?["location"]?.stringValue == location)
            #expect(try await server.store.read { db in try db.count(type: "QuestionnaireResponse") } == 1)
            #expect(try await server.store.read { db in try db.count(type: "Flag") } == 1)
            let task = try await server.store.read { db in try db.resource(type: "Task", id: taskID) }
            #expect(task?.versionID == 2)
            let actions = try await server.store.read { db in try db.auditEvents(after: 0, limit: 1000) }.map(\.event.action)
            #expect(actions.filter { $0 == "task-completed" }.count == 1)
            #expect(actions.filter { $0 == "flag-raised" }.count == 1)
        }
    }

    @Test("PHQ-9: total 14 with item 9 'not at all' raises nothing; item 9 'several days' at total 3 raises a red Flag", arguments: StoreBackend.allCases)
    func phq9Flags(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("jo@example.org").patientID)
            try await server.addClinician("nurse.jo@example.org", patients: ["jo@example.org"])
            let form = try Self.fixture("phq-9-sdc.json")
            let token = try await server.login("jo@example.org").token
            let nurse = try await server.login("nurse.jo@example.org").token
            let half = "More than half the days", some = "Several-days", none = "Not-at-all"
            let (_, first) = try await server.administration.assign(questionnaire: form, patientEmail: "jo@example.org", due: nil)
            let fourteen = try Self.upload(
                form, answers: Self.phq9([half, half, half, half, half, half, some, some, none]), patientID: patientID, taskID: first,
                authored: server.now())
            #expect(try await server.request("POST", "/fhir", token: token, json: fourteen).status == 200)
            #expect(try await flags(server, token: nurse).isEmpty)

            let (_, second) = try await server.administration.assign(questionnaire: form, patientEmail: "jo@example.org", due: nil)
            let itemNine = try Self.upload(
                form, answers: Self.phq9([none, none, some, none, none, none, none, none, some]), patientID: patientID, taskID: second,
                authored: server.now())
            #expect(try await server.request("POST", "/fhir", token: token, json: itemNine).status == 200)
            let raised = try await flags(server, token: nurse)
            #expect(raised.count == 1)
            #expect(raised.first?["code"]?["text"]?.stringValue?.contains("item 9") == true)
        }
    }

    @Test("answers based on another patient's assignment are refused, naming the entry, and change nothing", arguments: StoreBackend.allCases)
    func otherPatientsTask(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let kim = try #require(try await server.addPatient("kim@example.org").patientID)
            _ = try await server.addPatient("lee@example.org")
            let form = try Self.fixture("phq-9-sdc.json")
            let (_, leesTask) = try await server.administration.assign(questionnaire: form, patientEmail: "lee@example.org", due: nil)
            let token = try await server.login("kim@example.org").token
            let bundle = try Self.upload(
                form, answers: Self.phq9(Array(repeating: "Not-at-all", count: 9)), patientID: kim, taskID: leesTask, authored: server.now())
            let answer = try await server.request("POST", "/fhir", token: token, json: bundle)
            #expect(answer.status == 422)
            #expect(answer.issueExpression == "Bundle.entry[0].resource.basedOn")
            #expect(try await server.store.read { db in try db.count(type: "QuestionnaireResponse") } == 0)
            #expect(try await server.store.read { db in try db.resource(type: "Task", id: leesTask) }?.versionID == 1)
        }
    }

    @Test("a value set loaded with the assignment is found by its url (with or without a version) by the patient", arguments: StoreBackend.allCases)
    func valueSets(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            _ = try await server.addPatient("max@example.org")
            let form = try Self.fixture("nested-repeating-groups-sdc.json")
            let valueSet: JSONValue = [
                "resourceType": "ValueSet", "url": "http://hl7.org/fhir/ValueSet/service-type", "status": "active",
                "compose": ["include": [["system": "http://terminology.hl7.org/CodeSystem/service-type", "concept": [
                    ["code": "57", "display": "Immunization"], ["code": "124", "display": "General Practice"],
                ]]]],
            ]
            _ = try await server.administration.assign(questionnaire: form, patientEmail: "max@example.org", due: nil, valueSets: [valueSet])
            let token = try await server.login("max@example.org").token
            for query in ["url=http%3A%2F%2Fhl7.org%2Ffhir%2FValueSet%2Fservice-type", "url=http%3A%2F%2Fhl7.org%2Ffhir%2FValueSet%2Fservice-type%7C4.0.1"] {
                let found = try await server.request("GET", "/fhir/ValueSet?\(query)", token: token)
                #expect(found.status == 200, "\(found.text)")
                #expect(found.entries.count == 1)
            }
            #expect(try await server.request("GET", "/fhir/ValueSet?url=http%3A%2F%2Fexample.org%2Fnone", token: token).entries.isEmpty)
            // A value set that lists no codes is refused at assignment, saying why.
            let empty: JSONValue = ["resourceType": "ValueSet", "url": "http://example.org/vs", "status": "active",
                "compose": ["include": [["system": "http://snomed.info/sct", "filter": [["property": "concept", "op": "is-a", "value": "404684003"]]]]]]
            await #expect(throws: AdministrationError.self) {
                _ = try await server.administration.assign(questionnaire: form, patientEmail: "max@example.org", due: nil, valueSets: [empty])
            }
        }
    }
}
