import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// Issue 13's server findings, each as the request an attacker (or an unlucky patient) would send.
/// Every test here failed against the code before its fix.
@Suite("Hardening: the server survives what a patient or an attacker sends")
struct HardeningTests {
    func bloodPressure(_ server: TestServer, _ systolic: Double, _ diastolic: Double, patientID: String) -> JSONValue {
        ObservationBuilder.observation(
            kind: .bloodPressure, values: [.init(part: .systolic, value: systolic), .init(part: .diastolic, value: diastolic)],
            effective: server.now(), patientID: patientID, clientID: UUID().uuidString.lowercased())
    }

    /// The weight Observation with its value replaced by the literal `number` (as written, not via Double).
    func weight(_ server: TestServer, literal number: String, patientID: String) -> JSONValue {
        var object = server.weight(80, patientID: patientID).objectValue ?? [:]
        var quantity = object["valueQuantity"]?.objectValue ?? [:]
        quantity["value"] = .number(number)
        object["valueQuantity"] = .object(quantity)
        return .object(object)
    }

    /// U+0000 in a resource's identifier, code or member name, and in a search: refused with an
    /// OperationOutcome on either backend (PostgreSQL's text cannot hold it), nothing stored.
    static func expectNulRefused(
        patientID: String, reading: JSONValue, send: (String, String, JSONValue?) async throws -> HTTPResponseData
    ) async throws {
        var object = reading.objectValue ?? [:]
        object["identifier"] = [["system": "urn:ietf:rfc:3986", "value": "urn:uuid:a\u{0}b"]]
        let withIdentifier = JSONValue.object(object)
        object = reading.objectValue ?? [:]
        object["note"] = [["text\u{0}": "x"]]
        for resource in [withIdentifier, .object(object)] {
            let created = try await send("POST", "/fhir/Observation", resource)
            #expect(created.status == 422 && created.issueCode == "invalid", "\(created.status) \(created.text)")
            let bundle = TestServer.transaction([resource])
            let transaction = try await send("POST", "/fhir", bundle)
            #expect(transaction.status == 422 || transaction.status == 400, "\(transaction.status) \(transaction.text)")
        }
        for path in ["/fhir/Observation?identifier=a%00b", "/fhir/Observation?code=%00", "/fhir/Observation?patient=\(patientID)%00", "/fhir/Flag?status=active%00"] {
            let search = try await send("GET", path, nil)
            #expect(search.status == 400 && search.issueCode == "invalid", "\(path): \(search.status) \(search.text)")
        }
        let stored = try await send("GET", "/fhir/Observation?patient=\(patientID)&_summary=count", nil)
        #expect(stored.status == 200 && stored.json?["total"] == .number(0), "\(stored.text)")
    }

    @Test("U+0000 in a resource or a search is refused with an OperationOutcome (SQLite; PostgreSQL in MultiInstanceTests)", arguments: StoreBackend.allCases)
    func nulRefused(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("nul@example.org").patientID)
            let token = try await server.login("nul@example.org").token
            try await Self.expectNulRefused(patientID: patientID, reading: server.weight(80, patientID: patientID)) { method, path, json in
                try await server.request(method, path, token: token, json: json)
            }
        }
    }

    @Test("what PostgreSQL cannot hold is refused alike on both backends: an identifier or code past 1,024 bytes (422 too-long, a transaction stores nothing), U+0000 in a create condition (400; 422 in a transaction) or a login challenge (401 expired)", arguments: StoreBackend.allCases)
    func unstorableRefusedAlike(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("long@example.org").patientID)
            let token = try await server.login("long@example.org").token
            // Random letters do not compress: 2,800 of them are past an index entry on PostgreSQL.
            let long = String((0..<2_800).map { _ in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".randomElement() ?? "a" })
            func reading(identifier: String? = nil, code: String? = nil) -> JSONValue {
                var object = server.weight(80, patientID: patientID).objectValue ?? [:]
                if let identifier { object["identifier"] = [["system": "urn:probe", "value": .string(identifier)]] }
                if let code, var concept = object["code"]?.objectValue {
                    concept["coding"] = .array((concept["coding"]?.arrayValue ?? []) + [["system": "urn:probe", "code": .string(code)]])
                    object["code"] = .object(concept)
                }
                return .object(object)
            }
            for (resource, path) in [(reading(identifier: long), "Observation.identifier"), (reading(code: long), "Observation.code.coding")] {
                let created = try await server.request("POST", "/fhir/Observation", token: token, json: resource)
                #expect(created.status == 422 && created.issueCode == "too-long", "\(created.status) \(created.text)")
                #expect(created.text.contains(path), "\(created.text)")
                // One such reading among good ones: the transaction is refused whole, with a reason.
                let bundle = TestServer.transaction([reading(identifier: UUID().uuidString), resource])
                let transaction = try await server.request("POST", "/fhir", token: token, json: bundle)
                #expect(transaction.status == 422, "\(transaction.status) \(transaction.text)")
            }
            // At the bound: stored, and found by it.
            let atBound = String(long.prefix(ServerLimits.indexedValueBytes))
            let stored = try await server.request("POST", "/fhir/Observation", token: token, json: reading(identifier: atBound, code: atBound))
            #expect(stored.status == 201, "\(stored.status) \(stored.text)")
            let found = try await server.request("GET", "/fhir/Observation?identifier=urn:probe%7C\(atBound)&_summary=count", token: token)
            #expect(found.status == 200 && found.json?["total"] == .number(1), "\(found.text)")
            let count = try await server.request("GET", "/fhir/Observation?patient=\(patientID)&_summary=count", token: token)
            #expect(count.json?["total"] == .number(1), "only the reading at the bound is stored: \(count.text)")

            let conditional = try await server.request(
                "POST", "/fhir/Observation", token: token, json: reading(), headers: [("If-None-Exist", "identifier=urn:probe|a%00b")])
            #expect(conditional.status == 400 && conditional.issueCode == "invalid", "\(conditional.status) \(conditional.text)")
            let inTransaction = try await server.request(
                "POST", "/fhir", token: token,
                json: [
                    "resourceType": "Bundle", "type": "transaction",
                    "entry": [["resource": reading(), "request": ["method": "POST", "url": "Observation", "ifNoneExist": "identifier=urn:probe|a\u{0}b"]]],
                ])
            // A transaction answers an entry's refusal 422, naming it.
            #expect(inTransaction.status == 422 && inTransaction.text.contains("control characters"), "\(inTransaction.status) \(inTransaction.text)")
            // The command line's assign takes no url a form could not be found by either.
            let form: JSONValue = [
                "resourceType": "Questionnaire", "status": "active", "url": .string("https://forms.example/" + long),
                "item": [["linkId": "1", "text": "Well?", "type": "boolean"]],
            ]
            await #expect(throws: AdministrationError.self) {
                _ = try await server.administration.assign(questionnaire: form, patientEmail: "long@example.org", due: nil)
            }
            for challenge in ["a\u{0}", "a\u{1}b"] {
                let otp = try await server.request("POST", "/auth/otp", json: ["challenge": .string(challenge), "code": "123456"])
                #expect(otp.status == 401 && otp.issueCode == "expired", "\(otp.status) \(otp.text)")
            }
        }
    }

    @Test("values no Int can hold (1e19, -1e19, 10^22, 1e308) are refused with 422 and the server keeps answering", arguments: StoreBackend.allCases)
    func absurdNumbers(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("num@example.org").patientID)
            let token = try await server.login("num@example.org").token
            for literal in ["1e19", "-1e19", "10000000000000000000000", "1e308", "-9223372036854775809", "1e400"] {
                let answer = try await server.request("POST", "/fhir/Observation", token: token, json: weight(server, literal: literal, patientID: patientID))
                #expect(answer.status == 422, "\(literal): \(answer.text)")
                #expect(answer.issueCode == "value" || answer.issueCode == "structure", "\(literal): \(answer.text)")
            }
            // In a transaction too, where the message is located at the entry.
            let bundle = server.transaction([weight(server, literal: "1e19", patientID: patientID)])
            #expect(try await server.request("POST", "/fhir", token: token, json: bundle).status == 422)
            #expect(try await server.request("GET", "/fhir/metadata").status == 200)
        }
    }

    @Test("a 1 MiB resource with 95,000 members is refused at once, not stamped in quadratic time", arguments: StoreBackend.allCases)
    func wideResource(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("wide@example.org").patientID)
            let token = try await server.login("wide@example.org").token
            // Spliced as text: building it as a JSONObject would itself be the slow path under test.
            var body = Array(server.weight(80, patientID: patientID).serialized().dropLast())
            for index in 0..<95_000 { body.append(contentsOf: Array(",\"x\(index)\":\(index % 10)".utf8)) }
            body.append(UInt8(ascii: "}"))
            #expect(body.count < ServerRoutes.bodyLimit)
            let started = ContinuousClock.now
            let answer = try await server.request("POST", "/fhir/Observation", token: token, body: body)
            let elapsed = ContinuousClock.now - started
            #expect(answer.status == 422 || answer.status == 413 || answer.status == 400, "\(answer.status)")
            #expect(answer.json?["resourceType"]?.stringValue == "OperationOutcome")
            #expect(elapsed < .seconds(10), "took \(elapsed)")
        }
    }

    @Test("building a JSON object of 200,000 members is linear")
    func objectBuildingIsLinear() {
        let members = (0..<200_000).map { (key: "k\($0)", value: JSONValue.number($0)) }
        let started = ContinuousClock.now
        let object = JSONObject(members)
        let stamped = FHIRService.stamp(.object(object), type: .observation, id: "x", version: 1, at: 0)
        #expect(object.count == 200_000)
        #expect(stamped.json.count > 1_000_000)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("a patient sees no clinician's login e-mail and only the practitioners of their own care team", arguments: StoreBackend.allCases)
    func practitionersArePrivate(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            _ = try await server.addPatient("pat@example.org")
            try await server.addClinician("mine@example.org", patients: ["pat@example.org"])
            try await server.addClinician("stranger@example.org")
            let token = try await server.login("pat@example.org").token
            let answer = try await server.request("GET", "/fhir/Practitioner", token: token)
            #expect(answer.status == 200)
            #expect(!answer.text.contains("@example.org"), "\(answer.text)")
            #expect(answer.entries.count == 1)
            let nurse = try await server.login("mine@example.org").token
            let colleagues = try await server.request("GET", "/fhir/Practitioner", token: nurse)
            #expect(!colleagues.text.contains("stranger@example.org"))
        }
    }

    @Test("a reading corrected by PUT to 204/121 raises a red Flag; a remark added later raises only the remark, not the handled values again", arguments: StoreBackend.allCases)
    func alertsOnUpdate(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("put@example.org").patientID)
            try await server.addClinician("nurse.put@example.org", patients: ["put@example.org"])
            let token = try await server.login("put@example.org").token
            let created = try await server.request("POST", "/fhir/Observation", token: token, json: bloodPressure(server, 120, 80, patientID: patientID))
            #expect(created.status == 201)
            var corrected = try #require(created.json?.objectValue)
            let id = try #require(corrected["id"]?.stringValue)
            let high = bloodPressure(server, 204, 121, patientID: patientID)
            corrected["component"] = high["component"]
            let put = try await server.request("PUT", "/fhir/Observation/\(id)", token: token, json: .object(corrected), headers: [("If-Match", "W/\"1\"")])
            #expect(put.status == 200, "\(put.text)")
            let nurse = try await server.login("nurse.put@example.org").token
            var flags = try await server.request("GET", "/fhir/Flag?status=active", token: nurse).entries.compactMap { $0["resource"] }
            #expect(flags.count == 2, "systolic and diastolic")
            #expect(flags.contains { $0["code"]?["text"]?.stringValue?.contains("204") == true })

            // The nurse handles them; the patient then adds a note to the same reading: no new episode.
            for flag in flags {
                let handled = FlagTriage.apply(.handle, note: "Called", by: "Nurse", at: server.clock.now(), to: flag)
                let answer = try await server.request(
                    "PUT", "/fhir/Flag/\(flag["id"]?.stringValue ?? "")", token: nurse, json: handled, headers: [("If-Match", "W/\"1\"")])
                #expect(answer.status == 200)
            }
            var noted = try #require(put.json?.objectValue)
            noted["note"] = [["text": "measured twice"]]
            #expect(try await server.request("PUT", "/fhir/Observation/\(id)", token: token, json: .object(noted), headers: [("If-Match", "W/\"2\"")]).status == 200)
            flags = try await server.request("GET", "/fhir/Flag?status=active", token: nurse).entries.compactMap { $0["resource"] }
            #expect(flags.count == 1)
            #expect(flags.first.flatMap(FlagBuilder.rule(of:)) == "remark")
        }
    }

    @Test("a PHQ-9 first saved in progress and completed by PUT with item 9 answered completes the Task and raises a Flag", arguments: StoreBackend.allCases)
    func responseCompletedByUpdate(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("phq@example.org").patientID)
            try await server.addClinician("nurse.phq@example.org", patients: ["phq@example.org"])
            let form = try QuestionnaireResponseTests.fixture("phq-9-sdc.json")
            let (_, taskID) = try await server.administration.assign(questionnaire: form, patientEmail: "phq@example.org", due: FHIRDateTime("2026-11-20"))
            let token = try await server.login("phq@example.org").token
            let answers = QuestionnaireResponseTests.phq9(["Not-at-all", "Not-at-all", "Not-at-all", "Not-at-all", "Not-at-all", "Not-at-all", "Not-at-all", "Not-at-all", "Several days"])
            let bundle = try QuestionnaireResponseTests.upload(form, answers: answers, patientID: patientID, taskID: taskID, authored: server.now())
            var response = try #require(bundle["entry"]?.arrayValue?.first?["resource"]?.objectValue)
            response["status"] = "in-progress"
            let saved = try await server.request("POST", "/fhir/QuestionnaireResponse", token: token, json: .object(response))
            #expect(saved.status == 201, "\(saved.text)")
            let nurse = try await server.login("nurse.phq@example.org").token
            #expect(try await server.request("GET", "/fhir/Flag?status=active", token: nurse).entries.isEmpty)

            var completed = try #require(saved.json?.objectValue)
            completed["status"] = "completed"
            let id = try #require(completed["id"]?.stringValue)
            let put = try await server.request("PUT", "/fhir/QuestionnaireResponse/\(id)", token: token, json: .object(completed), headers: [("If-Match", "W/\"1\"")])
            #expect(put.status == 200, "\(put.text)")
            #expect(try await server.request("GET", "/fhir/Flag?status=active", token: nurse).entries.count == 1)
            let task = try await server.request("GET", "/fhir/Task/\(taskID)", token: token)
            #expect(task.json?["status"]?.stringValue == "completed")
        }
    }
}

@Suite("Smaller findings: paging, If-Match in transactions, identifiers per patient, signed append-only notes")
struct SmallerFindingsTests {
    @Test("_count=0 answers with no entries and no next link pointing at itself", arguments: StoreBackend.allCases)
    func countZero(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let id = try #require(try await server.addPatient("zero@example.org").patientID)
            let token = try await server.login("zero@example.org").token
            #expect(try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(80, patientID: id)).status == 201)
            let answer = try await server.request("GET", "/fhir/Observation?_count=0", token: token)
            #expect(answer.status == 200)
            #expect(answer.entries.isEmpty)
            let relations = answer.json?["link"]?.arrayValue?.compactMap { $0["relation"]?.stringValue } ?? []
            #expect(!relations.contains("next"), "\(answer.text)")
        }
    }

    @Test("a PUT in a transaction needs ifMatch, as a plain PUT does", arguments: StoreBackend.allCases)
    func transactionPutNeedsIfMatch(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let id = try #require(try await server.addPatient("tx@example.org").patientID)
            let token = try await server.login("tx@example.org").token
            let created = try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(80, patientID: id))
            var resource = try #require(created.json?.objectValue)
            resource["status"] = "amended"
            let observationID = try #require(resource["id"]?.stringValue)
            let bundle: JSONValue = [
                "resourceType": "Bundle", "type": "transaction",
                "entry": [["resource": .object(resource), "request": ["method": "PUT", "url": .string("Observation/\(observationID)")]]],
            ]
            let blind = try await server.request("POST", "/fhir", token: token, json: bundle)
            #expect(blind.status == 422)
            #expect(blind.issueCode == "required")
            #expect(blind.issueExpression == "Bundle.entry[0].request.ifMatch")
            let current = try await server.request("GET", "/fhir/Observation/\(observationID)", token: token)
            #expect(current.json?["meta"]?["versionId"]?.stringValue == "1", "nothing changed")
        }
    }

    @Test("identifiers are per patient: another patient's identifier is neither refused nor matched, so it reveals nothing", arguments: StoreBackend.allCases)
    func identifiersPerPatient(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let a = try #require(try await server.addPatient("ida.a@example.org").patientID)
            let b = try #require(try await server.addPatient("ida.b@example.org").patientID)
            let tokenA = try await server.login("ida.a@example.org").token
            let tokenB = try await server.login("ida.b@example.org").token
            let shared = UUID().uuidString.lowercased()
            let first = try await server.request("POST", "/fhir", token: tokenA, json: server.transaction([server.weight(80, patientID: a, clientID: shared)]))
            #expect(first.status == 200)
            let second = try await server.request("POST", "/fhir", token: tokenB, json: server.transaction([server.weight(61, patientID: b, clientID: shared)]))
            #expect(second.status == 200, "\(second.text)")
            #expect(second.entries.first?["response"]?["status"]?.stringValue == "201 Created")
            let mine = try await server.request("GET", "/fhir/Observation", token: tokenB)
            #expect(mine.entries.count == 1)
            #expect(mine.entries.first?["resource"]?["valueQuantity"]?["value"]?.doubleValue == 61)
        }
    }

    @Test("a nurse's note is signed by the server with her own name; earlier notes cannot be removed or changed", arguments: StoreBackend.allCases)
    func notesAreAppendOnly(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let id = try #require(try await server.addPatient("notes@example.org").patientID)
            try await server.addClinician("nurse.notes@example.org", patients: ["notes@example.org"])
            let token = try await server.login("notes@example.org").token
            let high = ObservationBuilder.observation(
                kind: .bloodPressure, values: [.init(part: .systolic, value: 190), .init(part: .diastolic, value: 80)], effective: server.now(),
                patientID: id, clientID: UUID().uuidString.lowercased())
            #expect(try await server.request("POST", "/fhir/Observation", token: token, json: high).status == 201)
            let nurse = try await server.login("nurse.notes@example.org").token
            let flag = try #require(try await server.request("GET", "/fhir/Flag?status=active", token: nurse).entries.first?["resource"])
            let flagID = try #require(flag["id"]?.stringValue)
            let forged = FlagTriage.apply(.note, note: "Called her", by: "Dr. Somebody Else", at: 0, to: flag)
            let noted = try await server.request("PUT", "/fhir/Flag/\(flagID)", token: nurse, json: forged, headers: [("If-Match", "W/\"1\"")])
            #expect(noted.status == 200)
            let notes = FlagTriage.notes(try #require(noted.json))
            #expect(notes.count == 1)
            #expect(notes.first?.author == "Nurse Test")
            #expect(notes.first?.time == server.clock.now())

            // Sending the Flag back without that note is refused, and so is changing its text.
            let erased = try await server.request("PUT", "/fhir/Flag/\(flagID)", token: nurse, json: flag, headers: [("If-Match", "W/\"2\"")])
            #expect(erased.status == 422)
            #expect(erased.issueCode == "business-rule")
            var rewritten = try #require(noted.json?.objectValue)
            rewritten["extension"] = .array((rewritten["extension"]?.arrayValue ?? []).map { entry in
                guard entry["url"]?.stringValue == FlagTriage.noteURL, var object = entry.objectValue else { return entry }
                object["valueAnnotation"] = ["authorString": "Nurse Test", "text": "Never called"]
                return .object(object)
            })
            #expect(try await server.request("PUT", "/fhir/Flag/\(flagID)", token: nurse, json: .object(rewritten), headers: [("If-Match", "W/\"2\"")]).status == 422)
        }
    }
}

@Suite("Audit you can trust: every patient shown, every refusal, on disk before the answer")
struct AuditHardeningTests {
    func events(_ server: TestServer) async throws -> [AuditEvent] {
        try await server.store.read { db in try db.auditEvents(after: 0, limit: 10_000) }.map(\.event)
    }

    @Test("a clinician's search over three patients names each of them; the read's line is on disk when the answer arrives", arguments: StoreBackend.allCases)
    func searchNamesEveryPatient(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            var ids: [String] = []
            for name in ["a", "b", "c"] {
                let id = try #require(try await server.addPatient("\(name)@audit.example").patientID)
                ids.append(id)
                let token = try await server.login("\(name)@audit.example").token
                #expect(try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(80, patientID: id)).status == 201)
            }
            try await server.addClinician("nurse@audit.example", patients: ["a@audit.example", "b@audit.example", "c@audit.example"])
            let nurse = try await server.login("nurse@audit.example").token
            #expect(try await server.request("GET", "/fhir/Observation", token: nurse).entries.count == 3)
            // No flush: the line must already be there.
            let searches = try await events(server).filter { $0.action == "search" && $0.actorRole == "clinician" }
            #expect(Set(searches.compactMap(\.patientID)) == Set(ids))
        }
    }

    @Test("an invented token, a refused upload and an unknown path are each on the record, naming the caller where known", arguments: StoreBackend.allCases)
    func refusalsAreAudited(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let account = try await server.addPatient("refused@audit.example")
            let token = try await server.login("refused@audit.example").token
            #expect(try await server.request("GET", "/fhir/Observation", token: "invented-token").status == 401)
            var bad = server.weight(80, patientID: try #require(account.patientID)).objectValue ?? [:]
            bad["status"] = "maybe"
            #expect(try await server.request("POST", "/fhir/Observation", token: token, json: .object(bad)).status == 422)
            #expect(try await server.request("GET", "/nowhere", token: token).status == 404)
            let all = try await events(server)
            #expect(all.contains { $0.action == "token-refused" && $0.httpStatus == 401 && $0.actorID == nil })
            #expect(all.contains { $0.action == "refused" && $0.httpStatus == 422 && $0.actorID == account.id && $0.resourceType == "Observation" })
            #expect(all.contains { $0.action == "refused" && $0.httpStatus == 404 && $0.request == "GET /nowhere" })
        }
    }
}

@Suite("Limits: each one enforced with an OperationOutcome, and stated in the CapabilityStatement")
struct LimitTests {
    @Test("a search page stops at 8 MiB with a next link that carries on where it stopped", arguments: StoreBackend.allCases)
    func pageByteBudget(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let id = try #require(try await server.addPatient("big@example.org").patientID)
            let token = try await server.login("big@example.org").token
            let note = String(repeating: "n", count: 900_000)
            for _ in 0..<10 {
                #expect(try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(80, patientID: id, note: note)).status == 201)
            }
            let first = try await server.request("GET", "/fhir/Observation?_count=100", token: token)
            #expect(first.entries.count == 9, "9 × 0.9 MB fit in 8 MiB, the 10th does not")
            #expect(first.body.count < 9 << 20)
            let next = try #require(first.json?["link"]?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue)
            let path = String(next[try #require(next.range(of: "/fhir"))!.lowerBound...])
            let second = try await server.request("GET", path, token: token)
            #expect(second.entries.count == 1)
            let ids = Set((first.entries + second.entries).compactMap { $0["resource"]?["id"]?.stringValue })
            #expect(ids.count == 10)
        }
    }

    @Test("too many values, parameters, an offset too deep and a transaction too long are refused as too-costly", arguments: StoreBackend.allCases)
    func searchAndBundleLimits(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let id = try #require(try await server.addPatient("limits@example.org").patientID)
            let token = try await server.login("limits@example.org").token
            let codes = (0..<101).map { "c\($0)" }.joined(separator: ",")
            let manyValues = try await server.request("GET", "/fhir/Observation?code=\(codes)", token: token)
            #expect(manyValues.status == 400 && manyValues.issueCode == "too-costly")
            let manyParameters = (0..<41).map { "date=ge2020-01-0\($0 % 9 + 1)" }.joined(separator: "&")
            #expect(try await server.request("GET", "/fhir/Observation?\(manyParameters)", token: token).issueCode == "too-costly")
            #expect(try await server.request("GET", "/fhir/Observation?_offset=100001", token: token).issueCode == "too-costly")
            let long = server.transaction((0..<501).map { _ in server.weight(80, patientID: id) })
            let refused = try await server.request("POST", "/fhir", token: token, json: long)
            #expect(refused.status == 413 && refused.issueCode == "too-costly")
            #expect(try await server.request("GET", "/fhir/Observation", token: token).entries.isEmpty, "nothing stored")
        }
    }

    @Test("the CapabilityStatement states every limit with its number", arguments: StoreBackend.allCases)
    func capabilityStatesLimits(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let text = try await server.request("GET", "/fhir/metadata").json?["rest"]?.arrayValue?.first?["documentation"]?.stringValue ?? ""
            for number in [
                ServerLimits.bodyBytes, ServerLimits.resourceShape.maximumDepth, ServerLimits.resourceShape.maximumMembers,
                ServerLimits.maximumPageSize, ServerLimits.pageBytes, ServerLimits.maximumOffset, ServerLimits.batchEntries,
                ServerLimits.transactionEntries, ServerLimits.valuesPerParameter,
            ] {
                #expect(text.contains(String(number)), "\(number)")
            }
        }
    }
}

@Suite("The adversarial review's findings, each pinned")
struct ReviewFindingTests {
    @Test("a login body over 4 KiB is refused before it is read, so nobody without an account reaches the body-reading worker", arguments: StoreBackend.allCases)
    func authBodiesAreSmall(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let password = String(repeating: "p", count: 5000)
            let answer = try await server.request("POST", "/auth/login", json: ["username": "a@example.org", "password": .string(password)])
            #expect(answer.status == 413 && answer.issueCode == "too-costly")
        }
    }

    @Test("callers nobody knows get 120 requests a minute per address, and their refusals one audit line a minute", arguments: StoreBackend.allCases)
    func unknownCallersAreBudgeted(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            var statuses: [Int] = []
            for _ in 0..<121 { statuses.append(try await server.request("GET", "/fhir/Observation", token: "invented").status) }
            #expect(statuses.prefix(120).allSatisfy { $0 == 401 })
            #expect(statuses.last == 429)
            let refused = try await server.store.read { db in try db.auditEvents(after: 0, limit: 10_000) }.map(\.event)
                .filter { $0.action == "token-refused" }
            #expect(refused.count == 1)
        }
    }

    @Test("the same identifier twice in one resource is stored once (201), not a 500", arguments: StoreBackend.allCases)
    func doubledIdentifier(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let id = try #require(try await server.addPatient("twice@example.org").patientID)
            let token = try await server.login("twice@example.org").token
            var observation = try #require(server.weight(80, patientID: id).objectValue)
            let identifier = try #require(observation["identifier"]?.arrayValue?.first)
            observation["identifier"] = [identifier, identifier]
            let answer = try await server.request("POST", "/fhir/Observation", token: token, json: .object(observation))
            #expect(answer.status == 201, "\(answer.text)")
        }
    }

    @Test("a conditional create whose other identifier is the condition's value spelled decomposed keeps and checks both: taken, a 422", arguments: StoreBackend.allCases)
    func decomposedIdentifier(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let id = try #require(try await server.addPatient("cafe@example.org").patientID)
            let token = try await server.login("cafe@example.org").token
            // The same word to Swift's `==`, two identifiers to both databases (they compare bytes).
            let (composed, decomposed) = ("caf\u{E9}", "cafe\u{301}")
            var first = try #require(server.weight(80, patientID: id).objectValue)
            first["identifier"] = [["system": "urn:test", "value": .string(decomposed)]]
            let stored = try await server.request("POST", "/fhir/Observation", token: token, json: .object(first))
            #expect(stored.status == 201, "\(stored.text)")
            var second = try #require(server.weight(81, patientID: id).objectValue)
            second["identifier"] = [["system": "urn:test", "value": .string(composed)], ["system": "urn:test", "value": .string(decomposed)]]
            let refused = try await server.request(
                "POST", "/fhir/Observation", token: token, json: .object(second), headers: [("If-None-Exist", "identifier=urn:test|caf%C3%A9")])
            #expect(refused.status == 422 && refused.text.contains("duplicate"), "\(refused.status) \(refused.text)")
            let all = try await server.request("GET", "/fhir/Observation?patient=\(id)", token: token)
            #expect(all.entries.count == 1)
        }
    }

    @Test("a hash made with weaker parameters is replaced at the next right password", arguments: StoreBackend.allCases)
    func rehashOnLogin(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: { $0.hasher = PasswordHasher(logRounds: 11, blockSize: 8, parallelism: 1) }) { server in
            let account = try await server.addPatient("old@example.org")  // hashed with the tests' ln=10
            #expect(account.passwordHash.hasPrefix("$scrypt$ln=10,"))
            _ = try await server.login("old@example.org")
            let stored = try await server.store.read { db in try db.account(email: "old@example.org") }
            #expect(stored?.passwordHash.hasPrefix("$scrypt$ln=11,") == true)
            _ = try await server.login("old@example.org")
        }
    }

    @Test("a remark added to a reading by PUT raises the remark alert, as it would on a new reading", arguments: StoreBackend.allCases)
    func remarkByUpdate(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let id = try #require(try await server.addPatient("remark@example.org").patientID)
            try await server.addClinician("nurse.remark@example.org", patients: ["remark@example.org"])
            let token = try await server.login("remark@example.org").token
            let created = try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(80, patientID: id))
            var noted = try #require(created.json?.objectValue)
            noted["note"] = [["text": "I feel dizzy since this morning"]]
            let put = try await server.request(
                "PUT", "/fhir/Observation/\(noted["id"]?.stringValue ?? "")", token: token, json: .object(noted), headers: [("If-Match", "W/\"1\"")])
            #expect(put.status == 200)
            let nurse = try await server.login("nurse.remark@example.org").token
            let flags = try await server.request("GET", "/fhir/Flag?status=active", token: nurse).entries
            #expect(flags.count == 1, "\(flags)")
        }
    }

    @Test("a clinician needs a name: one made from the login address would publish it to patients", arguments: StoreBackend.allCases)
    func clinicianNeedsAName(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            await #expect(throws: AdministrationError.self) {
                try await server.administration.addUser(email: "noname@example.org", role: .clinician, password: TestServer.password, name: nil)
            }
        }
    }

    @Test("a patient's phone number goes into Patient.telecom as a mobile number; one that is not a number, or a clinician's, is refused and nothing is created", arguments: StoreBackend.allCases)
    func phoneNumber(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let account = try await server.administration.addUser(
                email: "phone@example.org", role: .patient, password: TestServer.password, name: "Pia Phone", phone: " +31 (0)6-1234.5678 ")
            let stored = try #require(try await server.store.read { db in try db.resource(type: "Patient", id: account.patientID ?? "") })
            let telecom = JSONParser.parseOrNil(stored.json)?["telecom"]?.arrayValue ?? []
            #expect(telecom.contains { $0 == ["system": "phone", "value": "+31 (0)6-1234.5678", "use": "mobile"] })
            for bad in ["call me", "12", "112", "+31 6+1234 5678", "+1 234 567 890 123 456 7", "+31 6 1234 5678; DROP", String(repeating: "1 ", count: 20), "٣١٦١٢٣٤٥٦٧٨"] {
                await #expect(throws: AdministrationError.self, "\(bad)") {
                    try await server.administration.addUser(
                        email: "bad.phone@example.org", role: .patient, password: TestServer.password, name: "Bad", phone: bad)
                }
            }
            await #expect(throws: AdministrationError.self) {
                try await server.administration.addUser(
                    email: "nurse.phone@example.org", role: .clinician, password: TestServer.password, name: "Nurse", phone: "+31 6 1234 5678")
            }
            let created = try await server.store.read { db in
                try ["bad.phone@example.org", "nurse.phone@example.org"].compactMap { try db.account(email: $0) }
            }
            #expect(created.isEmpty)
        }
    }
}
