import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

@Suite("FHIR API over real TLS")
struct FHIRAPITests {
    @Test("a patient reads and writes only their own data; a clinician only their care team's", arguments: StoreBackend.allCases)
    func accessIsCompartmentalised(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let a = try await server.addPatient("a@example.org")
            let b = try await server.addPatient("b@example.org")
            try await server.addClinician("team@example.org", patients: ["a@example.org"])
            try await server.addClinician("other@example.org", patients: ["b@example.org"])
            let aID = try #require(a.patientID)
            let bID = try #require(b.patientID)
            let tokenA = try await server.login("a@example.org").token
            let tokenB = try await server.login("b@example.org").token

            let created = try await server.request("POST", "/fhir/Observation", token: tokenA, json: server.weight(80, patientID: aID))
            #expect(created.status == 201)
            let observationID = try #require(created.json?["id"]?.stringValue)
            #expect(created.header("location")?.contains("/fhir/Observation/\(observationID)/_history/1") == true)

            // B cannot see A's measurement, its patient record, or find it by searching.
            let stolen = try await server.request("GET", "/fhir/Observation/\(observationID)", token: tokenB)
            #expect(stolen.status == 404)
            let missing = try await server.request("GET", "/fhir/Observation/\(UUID().uuidString.lowercased())", token: tokenB)
            #expect(stolen.issueCode == missing.issueCode && stolen.status == missing.status)
            #expect(try await server.request("GET", "/fhir/Patient/\(aID)", token: tokenB).status == 404)
            let search = try await server.request("GET", "/fhir/Observation?patient=\(aID)", token: tokenB)
            #expect(search.status == 200)
            #expect(search.entries.isEmpty)
            #expect(search.json?["entry"] == nil, "FHIR JSON has no empty arrays")

            // B cannot write into A's record, directly or in a transaction.
            let forged = try await server.request("POST", "/fhir/Observation", token: tokenB, json: server.weight(99, patientID: aID))
            #expect(forged.status == 404)
            let forgedBundle = try await server.request("POST", "/fhir", token: tokenB, json: server.transaction([server.weight(99, patientID: aID)]))
            #expect(forgedBundle.status == 404)

            // The care team clinician sees A; the other clinician does not.
            let nurse = try await server.login("team@example.org").token
            #expect(try await server.request("GET", "/fhir/Observation/\(observationID)", token: nurse).status == 200)
            let patients = try await server.request("GET", "/fhir/Patient", token: nurse)
            #expect(patients.entries.map { $0["resource"]?["id"]?.stringValue } == [aID])
            let outsider = try await server.login("other@example.org").token
            #expect(try await server.request("GET", "/fhir/Observation/\(observationID)", token: outsider).status == 404)
            #expect(try await server.request("GET", "/fhir/Patient/\(aID)", token: outsider).status == 404)
            let outsiderWrite = try await server.request("POST", "/fhir/Observation", token: outsider, json: server.weight(70, patientID: aID))
            #expect(outsiderWrite.status == 404)
            #expect(try await server.request("GET", "/fhir/Patient/\(bID)", token: outsider).status == 200)
        }
    }

    @Test("replaying a transaction returns the same resources and never duplicates", arguments: StoreBackend.allCases)
    func idempotentReplay(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("replay@example.org")
            let patientID = try #require(patient.patientID)
            let token = try await server.login("replay@example.org").token
            let clientIDs = (0..<3).map { _ in UUID().uuidString.lowercased() }
            let bundle = server.transaction(clientIDs.map { server.weight(81.5, patientID: patientID, clientID: $0) })

            let first = try await server.request("POST", "/fhir", token: token, json: bundle)
            #expect(first.status == 200)
            #expect(first.json?["type"]?.stringValue == "transaction-response")
            let firstEntries = try #require(first.json?["entry"]?.arrayValue)
            #expect(firstEntries.map { $0["response"]?["status"]?.stringValue } == Array(repeating: "201 Created", count: 3))

            let replay = try await server.request("POST", "/fhir", token: token, json: bundle)
            let replayEntries = try #require(replay.json?["entry"]?.arrayValue)
            #expect(replayEntries.map { $0["response"]?["status"]?.stringValue } == Array(repeating: "200 OK", count: 3))
            #expect(replayEntries.map { $0["response"]?["location"] } == firstEntries.map { $0["response"]?["location"] })

            let all = try await server.request("GET", "/fhir/Observation?patient=\(patientID)&_count=100", token: token)
            #expect(all.entries.count == 3)
            let byIdentifier = try await server.request(
                "GET", "/fhir/Observation?identifier=urn:ietf:rfc:3986%7Curn:uuid:\(clientIDs[0])", token: token)
            #expect(byIdentifier.entries.count == 1)
        }
    }

    @Test("a transaction is all or nothing, and a bad entry is named", arguments: StoreBackend.allCases)
    func transactionAtomicity(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("atomic@example.org")
            let patientID = try #require(patient.patientID)
            let token = try await server.login("atomic@example.org").token
            var bad = server.weight(80, patientID: patientID).objectValue ?? [:]
            bad["valueQuantity"] = ["value": 80, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "lbs"]
            let bundle = server.transaction([server.weight(80, patientID: patientID), .object(bad)])
            let answer = try await server.request("POST", "/fhir", token: token, json: bundle)
            #expect(answer.status == 422)
            #expect(answer.issueExpression == "Bundle.entry[1].resource.valueQuantity.code")
            let all = try await server.request("GET", "/fhir/Observation?patient=\(patientID)", token: token)
            #expect(all.entries.isEmpty)
        }
    }

    @Test("versions: ETag, 304 when unchanged, 412 on a stale If-Match, 428 without one", arguments: StoreBackend.allCases)
    func versioning(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("versions@example.org")
            let patientID = try #require(patient.patientID)
            let token = try await server.login("versions@example.org").token
            let created = try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(80, patientID: patientID))
            let id = try #require(created.json?["id"]?.stringValue)
            #expect(created.header("etag") == "W/\"1\"")

            let unchanged = try await server.request("GET", "/fhir/Observation/\(id)", token: token, headers: [("If-None-Match", "W/\"1\"")])
            #expect(unchanged.status == 304)
            #expect(unchanged.body.isEmpty)

            var changed = try #require(created.json?.objectValue)
            changed["status"] = "entered-in-error"
            let updated = try await server.request(
                "PUT", "/fhir/Observation/\(id)", token: token, json: .object(changed), headers: [("If-Match", "W/\"1\"")])
            #expect(updated.status == 200)
            #expect(updated.header("etag") == "W/\"2\"")
            #expect(updated.json?["meta"]?["versionId"]?.stringValue == "2")

            let stale = try await server.request(
                "PUT", "/fhir/Observation/\(id)", token: token, json: .object(changed), headers: [("If-Match", "W/\"1\"")])
            #expect(stale.status == 412)
            #expect(stale.issueCode == "conflict")
            await server.running.flushAudit()
            let conflicts = try await server.store.read { db in try db.auditEvents(after: 0, limit: 1000) }.filter { $0.event.action == "update-conflict" }
            #expect(conflicts.count == 1, "a refused update is on the record even though its transaction rolled back")
            let unconditional = try await server.request("PUT", "/fhir/Observation/\(id)", token: token, json: .object(changed))
            #expect(unconditional.status == 428)

            let modified = try await server.request("GET", "/fhir/Observation/\(id)", token: token, headers: [("If-None-Match", "W/\"1\"")])
            #expect(modified.status == 200)
            let history = try await server.request("GET", "/fhir/Observation/\(id)/_history/1", token: token)
            #expect(history.json?["status"]?.stringValue == "final")
        }
    }

    @Test("bad input: 413 over 1 MiB, 400 for malformed JSON, 422 naming the field, 415 for other media", arguments: StoreBackend.allCases)
    func badInput(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("input@example.org")
            let patientID = try #require(patient.patientID)
            let token = try await server.login("input@example.org").token

            let huge = [UInt8](repeating: UInt8(ascii: " "), count: (1 << 20) + 10)
            let tooLarge = try await server.request("POST", "/fhir/Observation", token: token, body: huge)
            #expect(tooLarge.status == 413)
            #expect(tooLarge.issueCode == "too-costly")

            let malformed = try await server.request("POST", "/fhir/Observation", token: token, body: Array("{\"resourceType\": \"Observation\",".utf8))
            #expect(malformed.status == 400)
            #expect(malformed.json?["resourceType"]?.stringValue == "OperationOutcome")

            var wrongUnit = server.weight(80, patientID: patientID).objectValue ?? [:]
            wrongUnit["valueQuantity"] = ["value": 80, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "lbs"]
            let invalid = try await server.request("POST", "/fhir/Observation", token: token, json: .object(wrongUnit))
            #expect(invalid.status == 422)
            #expect(invalid.issueExpression == "Observation.valueQuantity.code")
            #expect(invalid.text.contains("expected 'kg'"))

            let implausible = try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(900, patientID: patientID))
            #expect(implausible.status == 422)
            #expect(implausible.issueExpression == "Observation.valueQuantity.value")

            let xml = try await server.request(
                "POST", "/fhir/Observation", token: token, body: Array("<Observation/>".utf8), headers: [("Content-Type", "application/fhir+xml")])
            #expect(xml.status == 415)

            let unknownParameter = try await server.request("GET", "/fhir/Observation?pateint=\(patientID)", token: token)
            #expect(unknownParameter.status == 400)
            #expect(unknownParameter.text.contains("pateint"))

            let nothingStored = try await server.request("GET", "/fhir/Observation?patient=\(patientID)", token: token)
            #expect(nothingStored.entries.isEmpty)
        }
    }

    @Test("search filters by code and date, sorts newest first, and pages with next links", arguments: StoreBackend.allCases)
    func searchAndPaging(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("search@example.org")
            let patientID = try #require(patient.patientID)
            let token = try await server.login("search@example.org").token
            var weights: [JSONValue] = []
            for day in 0..<25 {
                let time = TestServer.start - Int64(day) * 86_400_000
                let effective = FHIRDateTime.format(epochMilliseconds: time, utcOffsetSeconds: 3600)
                weights.append(ObservationBuilder.observation(
                    kind: .bodyWeight, values: [.init(part: .bodyWeight, value: 80 + Double(day) / 10)], effective: effective,
                    patientID: patientID, clientID: UUID().uuidString.lowercased()))
            }
            let pulse = ObservationBuilder.observation(
                kind: .heartRate, values: [.init(part: .heartRate, value: 70)], effective: server.now(), patientID: patientID,
                clientID: UUID().uuidString.lowercased())
            #expect(try await server.request("POST", "/fhir", token: token, json: server.transaction(weights + [pulse])).status == 200)

            var url: String? = "/fhir/Observation?patient=Patient/\(patientID)&code=http://loinc.org%7C29463-7&_count=10"
            var seen: [String] = []
            var pages = 0
            while let next = url {
                let page = try await server.request("GET", next, token: token)
                #expect(page.status == 200)
                seen += page.entries.compactMap { $0["resource"]?["effectiveDateTime"]?.stringValue }
                url = page.json?["link"]?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue
                    .map { String($0.dropFirst(server.baseURL.count)) }
                pages += 1
            }
            #expect(pages == 3)
            #expect(seen.count == 25)
            #expect(seen == seen.sorted { FHIRDateTime($0)!.lowerBound > FHIRDateTime($1)!.lowerBound })

            // Next links page by keyset (`_cursor`, sealed: no row numbers show), not by count; a cursor is
            // refused when altered, made for another search (filter or sort), or given with _offset.
            let base = "/fhir/Observation?patient=\(patientID)&code=29463-7&_count=10"
            let first = try await server.request("GET", base, token: token)
            let next = try #require(first.json?["link"]?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue)
            let cursor = try #require(next.components(separatedBy: "_cursor=").last)
            #expect(!next.contains("_offset") && !cursor.contains(".") && cursor.count > 40, "\(cursor)")
            #expect(try await server.request("GET", "\(base)&_cursor=\(cursor)", token: token).entries.count == 10)
            // A character in the middle (the last one may carry only unused bits).
            var characters = Array(cursor)
            characters[20] = characters[20] == "A" ? "B" : "A"
            let altered = String(characters)
            for (query, reason) in [
                ("\(base)&_cursor=\(altered)", "altered"), ("\(base)&_cursor=c1.5.1795000000000", "a plain position"),
                ("\(base)&_cursor=" + String(repeating: "A", count: 600), "too long"), ("\(base)&_cursor=%C3%A9", "not base64url"),
                ("\(base)&_sort=date&_cursor=\(cursor)", "another sort"), ("/fhir/Observation?patient=\(patientID)&_count=10&_cursor=\(cursor)", "another filter"),
                ("\(base)&_cursor=\(cursor)&_offset=10", "with _offset"), ("\(base)&_sort=date,-date", "a sort key twice"),
                ("/fhir/Patient?_has:Observation:patient:_cursor=\(cursor)", "paging inside _has"),
            ] {
                let refused = try await server.request("GET", query, token: token)
                #expect(refused.status == 400, "\(reason): \(refused.status)")
            }

            let since = FHIRDateTime.format(epochMilliseconds: TestServer.start - 4 * 86_400_000 - 60_000, utcOffsetSeconds: 3600)
                .replacingOccurrences(of: "+", with: "%2B")
            let recent = try await server.request("GET", "/fhir/Observation?patient=\(patientID)&code=29463-7&date=ge\(since)", token: token)
            #expect(recent.entries.count == 5)
            let pulseOnly = try await server.request("GET", "/fhir/Observation?patient=\(patientID)&code=8867-4", token: token)
            #expect(pulseOnly.entries.count == 1)
        }
    }

    @Test("every login, failure, lockout, read and write is audited, without health data", arguments: StoreBackend.allCases)
    func auditTrail(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("audit@example.org")
            let patientID = try #require(patient.patientID)
            for _ in 1...5 { _ = try await server.startLogin("audit@example.org", password: "wrong-password-9") }
            server.clock.advance(minutes: 16)
            let token = try await server.login("audit@example.org").token
            let sentinel = "SENTINEL-NOTE-7f3a"
            let created = try await server.request(
                "POST", "/fhir/Observation", token: token, json: server.weight(77.7, patientID: patientID, note: sentinel))
            let id = try #require(created.json?["id"]?.stringValue)
            _ = try await server.request("GET", "/fhir/Observation/\(id)", token: token)
            await server.running.flushAudit()

            let events = try await server.store.read { db in try db.auditEvents(after: 0, limit: 1000) }.map(\.event)
            let actions = events.map(\.action)
            #expect(actions.filter { $0 == "login-failure" }.count == 5)
            #expect(actions.contains("lockout"))
            #expect(actions.contains("login"))
            #expect(actions.contains("create"))
            #expect(events.contains { $0.action == "read" && $0.resourceID == id && $0.actorID == patient.id && $0.remoteAddress == "127.0.0.1" })
            let dump = events.map { "\($0)" }.joined()
            #expect(!dump.contains(sentinel))
            #expect(!dump.contains("77.7"))
            #expect(!dump.contains(TestServer.password))
        }
    }

    @Test("the CapabilityStatement lists exactly the supported types and interactions", arguments: StoreBackend.allCases)
    func capabilityStatement(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let metadata = try await server.request("GET", "/fhir/metadata")
            #expect(metadata.status == 200)
            #expect(metadata.header("content-type")?.hasPrefix("application/fhir+json") == true)
            let resources = metadata.json?["rest"]?.arrayValue?.first?["resource"]?.arrayValue ?? []
            // The stored types, and the read-only StructureDefinitions of Bedside's own extensions.
            #expect(Set(resources.compactMap { $0["type"]?.stringValue }) == Set(SupportedResource.allCases.map(\.rawValue) + ["StructureDefinition"]))
            let flag = resources.first { $0["type"]?.stringValue == "Flag" }
            #expect(flag?["interaction"]?.arrayValue?.compactMap { $0["code"]?.stringValue }.contains("create") == false)
            #expect(metadata.json?["fhirVersion"]?.stringValue == "4.0.1")
        }
    }
}

@Suite("Unknown paths")
struct UnknownPathTests {
    @Test("an unknown path or type answers 404 with an OperationOutcome", arguments: StoreBackend.allCases)
    func unknownPath(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            for path in ["/nothing/here", "/fhir/Medication/x", "/fhir/Observation/a/b/c"] {
                let answer = try await server.request("GET", path)
                #expect(answer.status == 404 || answer.status == 401, "\(path)")
                #expect(answer.json?["resourceType"]?.stringValue == "OperationOutcome", "\(path)")
            }
        }
    }
}
