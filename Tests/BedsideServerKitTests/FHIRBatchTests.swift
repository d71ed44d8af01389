import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

@Suite("Batch reads and search ETags over real TLS")
struct FHIRBatchTests {
    static let questionnaire: JSONValue = [
        "resourceType": "Questionnaire", "status": "active", "title": "Check-in", "url": "urn:bedside:test:check-in",
        "item": [["linkId": "1", "text": "How are you today?", "type": "string"]],
    ]

    /// A batch Bundle of GETs: (url, ifNoneMatch).
    static func batch(_ requests: [(String, String?)]) -> JSONValue {
        [
            "resourceType": "Bundle",
            "type": "batch",
            "entry": .array(requests.map { url, ifNoneMatch in
                var request: JSONObject = ["method": "GET", "url": .string(url)]
                if let ifNoneMatch { request["ifNoneMatch"] = .string(ifNoneMatch) }
                return ["request": .object(request)]
            }),
        ]
    }

    /// Paths (`$.entry[0].resource...`) of every empty array, which FHIR JSON forbids.
    static func emptyArrays(_ value: JSONValue, path: String = "$") -> [String] {
        switch value {
        case .array(let items):
            if items.isEmpty { return [path] }
            return items.enumerated().flatMap { emptyArrays($1, path: "\(path)[\($0)]") }
        case .object(let object):
            return object.flatMap { emptyArrays($0.value, path: "\(path).\($0.key)") }
        default:
            return []
        }
    }

    @Test("one batch: a search, a read, a 304 read, another patient's resource (404), a POST (400) and a bad search", arguments: StoreBackend.allCases)
    func mixedBatch(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let a = try await server.addPatient("batch-a@example.org")
            let b = try await server.addPatient("batch-b@example.org")
            let aID = try #require(a.patientID)
            let bID = try #require(b.patientID)
            let (questionnaireID, _) = try await server.administration.assign(
                questionnaire: Self.questionnaire, patientEmail: "batch-a@example.org", due: nil)
            let tokenA = try await server.login("batch-a@example.org").token
            let tokenB = try await server.login("batch-b@example.org").token
            #expect(try await server.request("POST", "/fhir", token: tokenA, json: server.transaction([
                server.weight(80, patientID: aID), server.weight(80.4, patientID: aID),
            ])).status == 200)
            let theirs = try await server.request("POST", "/fhir/Observation", token: tokenB, json: server.weight(66, patientID: bID))
            let theirID = try #require(theirs.json?["id"]?.stringValue)

            let pull = "Observation?patient=\(aID)&_lastUpdated=gt2026-01-01T00:00:00Z&_count=1000"
            let answer = try await server.request("POST", "/fhir", token: tokenA, json: Self.batch([
                (pull, nil),
                ("Questionnaire/\(questionnaireID)", nil),
                ("Questionnaire/\(questionnaireID)", "W/\"1\""),
                ("Observation/\(theirID)", nil),
                ("Observation/\(UUID().uuidString.lowercased())", nil),
                ("Task?owner=Patient/\(aID)&status=requested", nil),
                ("Observation?pateint=\(aID)", nil),
            ]).objectValue.map { bundle in
                // A write slipped into a batch is refused on its own, not run.
                var object = bundle
                var entries = object["entry"]?.arrayValue ?? []
                entries.insert(
                    ["resource": server.weight(90, patientID: aID), "request": ["method": "POST", "url": "Observation"]], at: 4)
                object["entry"] = .array(entries)
                return JSONValue.object(object)
            })
            #expect(answer.status == 200)
            let bundle = try #require(answer.json)
            #expect(bundle["type"]?.stringValue == "batch-response")
            #expect(Self.emptyArrays(bundle).isEmpty, "\(Self.emptyArrays(bundle))")
            let entries = answer.entries
            try #require(entries.count == 8)
            #expect(entries.allSatisfy { $0["request"] == nil }, "a batch-response entry carries no request")
            let statuses = entries.map { $0["response"]?["status"]?.stringValue }
            #expect(statuses == ["200 OK", "200 OK", "304 Not Modified", "404 Not Found", "400 Bad Request", "404 Not Found", "200 OK", "400 Bad Request"])

            // The search: a searchset of A's two measurements, with its tag, the same a plain GET gives.
            let search = entries[0]
            #expect(search["resource"]?["type"]?.stringValue == "searchset")
            #expect(search["resource"]?["entry"]?.arrayValue?.count == 2)
            let searchTag = try #require(search["response"]?["etag"]?.stringValue)
            #expect(searchTag.hasPrefix("W/\"search-"))
            #expect(search["response"]?["lastModified"] == nil)
            let plain = try await server.request("GET", "/fhir/\(pull)", token: tokenA)
            #expect(plain.header("etag") == searchTag)

            // The read: the resource, its version tag and time; then the same read answered 304.
            let read = entries[1]
            #expect(read["resource"]?["id"]?.stringValue == questionnaireID)
            #expect(read["fullUrl"]?.stringValue == "\(server.baseURL)/fhir/Questionnaire/\(questionnaireID)")
            #expect(read["response"]?["etag"]?.stringValue == "W/\"1\"")
            #expect(read["response"]?["lastModified"]?.stringValue.flatMap(FHIRDateTime.init) != nil)
            #expect(entries[2]["resource"] == nil)
            #expect(entries[2]["response"]?["etag"]?.stringValue == "W/\"1\"")
            #expect(entries[2]["response"]?["outcome"] == nil)

            // Another patient's measurement looks exactly like one that does not exist.
            let stolen = entries[3]["response"]?["outcome"]
            let missing = entries[5]["response"]?["outcome"]
            #expect(stolen?["issue"]?[0]?["code"]?.stringValue == "not-found")
            #expect(missing?["issue"]?[0]?["code"]?.stringValue == "not-found")
            #expect(entries[3]["resource"] == nil)

            let refusedWrite = entries[4]["response"]?["outcome"]?["issue"]?[0]
            #expect(refusedWrite?["code"]?.stringValue == "not-supported")
            #expect(refusedWrite?["diagnostics"]?.stringValue == "batch supports GET entries only; use a transaction for writes.")
            #expect(refusedWrite?["expression"]?[0]?.stringValue == "Bundle.entry[4].request.method")

            #expect(entries[6]["resource"]?["entry"]?[0]?["resource"]?["resourceType"]?.stringValue == "Task")
            let badSearch = entries[7]["response"]?["outcome"]?["issue"]?[0]
            #expect(badSearch?["code"]?.stringValue == "not-supported")
            #expect(badSearch?["diagnostics"]?.stringValue?.contains("pateint") == true)

            // The POST entry stored nothing; B still sees only their own.
            let mine = try await server.request("GET", "/fhir/Observation?patient=\(aID)", token: tokenA)
            #expect(mine.entries.count == 2)

            // Each entry is audited as its plain GET would be, marked as part of a batch.
            await server.running.flushAudit()
            let events = try await server.store.read { db in try db.auditEvents(after: 0, limit: 1000) }.map(\.event)
            #expect(events.contains {
                $0.action == "read" && $0.resourceID == theirID && $0.httpStatus == 404 && $0.outcome == "failure"
                    && $0.request == "GET /fhir/Observation/\(theirID) (batch)" && $0.actorID == a.id
            })
            #expect(events.contains { $0.action == "read" && $0.resourceID == questionnaireID && $0.httpStatus == 304 })
            #expect(events.contains { $0.action == "search" && $0.request == "GET /fhir/Observation (batch)" && $0.patientID == aID })
        }
    }

    @Test("a search whose query carries a URL (code=http://loinc.org|…) is relative and runs; an absolute path elsewhere is refused", arguments: StoreBackend.allCases)
    func queryWithURL(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("batch-url@example.org").patientID)
            let token = try await server.login("batch-url@example.org").token
            #expect(try await server.request("POST", "/fhir", token: token, json: server.transaction([server.weight(81, patientID: patientID)])).status == 200)
            let answer = try await server.request("POST", "/fhir", token: token, json: Self.batch([
                ("Observation?patient=\(patientID)&code=http://loinc.org|29463-7", nil),
                ("https://elsewhere.example/fhir/Observation?patient=\(patientID)", nil),
            ]))
            #expect(answer.status == 200)
            #expect(answer.entries.first?["response"]?["status"]?.stringValue?.hasPrefix("200") == true)
            #expect(answer.entries.first?["resource"]?["entry"]?.arrayValue?.count == 1)
            #expect(answer.entries.last?["response"]?["status"]?.stringValue?.hasPrefix("400") == true)
        }
    }

    @Test("a pull with nothing new: every entry of the second batch, and the plain search, answer 304", arguments: StoreBackend.allCases)
    func noChangePull(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("pull@example.org")
            let patientID = try #require(patient.patientID)
            let (questionnaireID, _) = try await server.administration.assign(
                questionnaire: Self.questionnaire, patientEmail: "pull@example.org", due: nil)
            let token = try await server.login("pull@example.org").token
            let created = try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(72, patientID: patientID))
            #expect(created.status == 201)
            let observationID = try #require(created.json?["id"]?.stringValue)

            let urls = [
                "Observation?patient=\(patientID)&_lastUpdated=gt2026-01-01T00:00:00Z&_count=1000",
                "Task?owner=Patient/\(patientID)&status=requested",
                "Questionnaire/\(questionnaireID)",
            ]
            let first = try await server.request("POST", "/fhir", token: token, json: Self.batch(urls.map { ($0, nil) }))
            #expect(first.entries.map { $0["response"]?["status"]?.stringValue } == ["200 OK", "200 OK", "200 OK"])
            let tags = first.entries.compactMap { $0["response"]?["etag"]?.stringValue }
            try #require(tags.count == 3)

            let second = try await server.request("POST", "/fhir", token: token, json: Self.batch(Array(zip(urls, tags.map(Optional.some)))))
            #expect(second.status == 200)
            #expect(second.entries.map { $0["response"]?["status"]?.stringValue } == Array(repeating: "304 Not Modified", count: 3))
            #expect(second.entries.allSatisfy { $0["resource"] == nil })
            #expect(second.entries.compactMap { $0["response"]?["etag"]?.stringValue } == tags)

            // The same search as a plain GET: the tag in a header, 304 with no body when sent back.
            let taskSearch = "/fhir/Task?owner=Patient/\(patientID)&status=requested"
            let plain = try await server.request("GET", taskSearch, token: token)
            #expect(plain.status == 200)
            #expect(plain.header("etag") == tags[1])
            let unchanged = try await server.request("GET", taskSearch, token: token, headers: [("If-None-Match", tags[1])])
            #expect(unchanged.status == 304)
            #expect(unchanged.body.isEmpty)
            #expect(unchanged.header("etag") == tags[1])
            let other = try await server.request("GET", taskSearch, token: token, headers: [("If-None-Match", "W/\"search-0000000000000000\"")])
            #expect(other.status == 200)
            #expect(other.entries.count == 1)

            // A new measurement changes the Observation search's tag, and only that one.
            #expect(try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(72.3, patientID: patientID)).status == 201)
            let third = try await server.request("POST", "/fhir", token: token, json: Self.batch(Array(zip(urls, tags.map(Optional.some)))))
            #expect(third.entries.map { $0["response"]?["status"]?.stringValue } == ["200 OK", "304 Not Modified", "304 Not Modified"])
            #expect(third.entries[0]["resource"]?["entry"]?.arrayValue?.count == 2)
            let afterNew = try #require(third.entries[0]["response"]?["etag"]?.stringValue)
            #expect(afterNew != tags[0])
            let plainObservations = try await server.request("GET", "/fhir/\(urls[0])", token: token, headers: [("If-None-Match", tags[0])])
            #expect(plainObservations.status == 200)
            #expect(plainObservations.header("etag") == afterNew)

            // A new version of a resource already in the result changes it too, though the count does not.
            let current = try await server.request("GET", "/fhir/Observation/\(observationID)", token: token)
            var changed = try #require(current.json?.objectValue)
            changed["status"] = "entered-in-error"
            #expect(try await server.request(
                "PUT", "/fhir/Observation/\(observationID)", token: token, json: .object(changed), headers: [("If-Match", "W/\"1\"")]).status == 200)
            let afterUpdate = try await server.request("GET", "/fhir/\(urls[0])", token: token, headers: [("If-None-Match", afterNew)])
            #expect(afterUpdate.status == 200)
            #expect(afterUpdate.entries.count == 2)
            #expect(afterUpdate.header("etag") != afterNew)

            // Pages of one search have tags of their own.
            let page1 = try await server.request("GET", "/fhir/Observation?patient=\(patientID)&_count=1", token: token)
            let page2 = try await server.request("GET", "/fhir/Observation?patient=\(patientID)&_count=1&_offset=1", token: token)
            #expect(page1.header("etag") != nil && page1.header("etag") != page2.header("etag"))
        }
    }

    @Test("batch limits: 100 entries at most, an empty batch has no entry array, only transaction and batch are taken", arguments: StoreBackend.allCases)
    func batchLimits(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("limits@example.org")
            let patientID = try #require(patient.patientID)
            let token = try await server.login("limits@example.org").token
            let read = "Patient/\(patientID)"

            let hundred = try await server.request("POST", "/fhir", token: token, json: Self.batch(Array(repeating: (read, nil), count: 100)))
            #expect(hundred.status == 200)
            #expect(hundred.entries.count == 100)
            let tooMany = try await server.request("POST", "/fhir", token: token, json: Self.batch(Array(repeating: (read, nil), count: 101)))
            #expect(tooMany.status == 413)
            #expect(tooMany.issueCode == "too-costly")
            #expect(tooMany.text.contains("at most 100 entries"))

            let empty = try await server.request("POST", "/fhir", token: token, json: ["resourceType": "Bundle", "type": "batch"])
            #expect(empty.status == 200)
            #expect(empty.json?["type"]?.stringValue == "batch-response")
            #expect(empty.json?["entry"] == nil, "FHIR JSON has no empty arrays")

            let collection = try await server.request("POST", "/fhir", token: token, json: ["resourceType": "Bundle", "type": "collection"])
            #expect(collection.status == 422)
            #expect(collection.issueCode == "not-supported")

            let anonymous = try await server.request("POST", "/fhir", json: Self.batch([(read, nil)]))
            #expect(anonymous.status == 401)

            // The server's own absolute URL is accepted; another server's, an entry without a request, and
            // a path that is neither a search nor a read are refused one by one.
            var odd = Self.batch([
                ("\(server.baseURL)/fhir/\(read)", nil), ("https://elsewhere.example/fhir/\(read)", nil), ("Patient/\(patientID)/extra", nil),
                ("Patient/\(patientID)/_history/1", nil),
            ]).objectValue ?? [:]
            odd["entry"] = .array((odd["entry"]?.arrayValue ?? []) + [["fullUrl": "urn:uuid:nothing"]])
            let answer = try await server.request("POST", "/fhir", token: token, json: .object(odd))
            #expect(answer.status == 200)
            #expect(answer.entries.map { $0["response"]?["status"]?.stringValue } == [
                "200 OK", "400 Bad Request", "400 Bad Request", "200 OK", "400 Bad Request",
            ])
            #expect(answer.entries[4]["response"]?["outcome"]?["issue"]?[0]?["expression"]?[0]?.stringValue == "Bundle.entry[4].request")
        }
    }

    @Test("the CapabilityStatement lists batch beside transaction", arguments: StoreBackend.allCases)
    func capabilityListsBatch(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let metadata = try await server.request("GET", "/fhir/metadata")
            let interactions = metadata.json?["rest"]?[0]?["interaction"]?.arrayValue?.compactMap { $0["code"]?.stringValue }
            #expect(interactions == ["transaction", "batch"])
        }
    }
}

extension JSONValue {
    /// The element at `index`, if this is an array that long (tests walk Bundles with it).
    fileprivate subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }
}
