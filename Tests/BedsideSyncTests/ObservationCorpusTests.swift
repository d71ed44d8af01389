import BedsideCore
import BedsideServerKit
import BedsideStore
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideSync

/// Valid FHIR R4 Observations published by the FHIR specification and national implementation guides
/// (Tests/Fixtures/Observations, sources and licences in its SOURCES.md): each is accepted, stored and
/// given back unchanged but for `id` and `meta`'s version and time, and the patient's app pulls them
/// all, showing what it understands and keeping the rest out of its screens without failing.
@Suite("Public Observations", .serialized)
struct ObservationCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures/Observations").standardized

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    }

    static func load(_ name: String) throws -> JSONValue {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try #require(JSONParser.parseOrNil(Array(data)), "\(name) is not JSON")
    }

    /// The resource without what a server may set: its id, and meta's version and time.
    static func comparable(_ resource: JSONValue) -> JSONValue {
        var object = resource.objectValue ?? [:]
        object["id"] = nil
        if var meta = object["meta"]?.objectValue {
            meta["versionId"] = nil
            meta["lastUpdated"] = nil
            object["meta"] = meta.isEmpty ? nil : .object(meta)
        }
        return .object(object)
    }

    @Test("the corpus is there: at least 30 public Observations, each listed with its source")
    func corpus() throws {
        #expect(Self.files.count >= 30, "\(Self.directory.path)")
        let sources = try String(contentsOf: Self.directory.appendingPathComponent("SOURCES.md"), encoding: .utf8)
        for file in Self.files { #expect(sources.contains(file), "\(file) has no source in SOURCES.md") }
    }

    @Test("each is accepted and given back unchanged but for id and meta; the app pulls them all and shows what it understands")
    func roundTrip() async throws {
        let clock = ManualClock(epochMilliseconds: 1_795_000_000_000)
        let server = try await LoopbackServer(clock: clock)
        // Identifiers are unique per patient (they make uploads idempotent), and some published examples
        // share one: such an example goes to another patient, as it would come from another record.
        var patients: [(client: SyncClient, identifiers: Set<String>, understood: Int)] = []
        func patient(for identifiers: Set<String>) async throws -> Int {
            if let index = patients.firstIndex(where: { $0.identifiers.isDisjoint(with: identifiers) }) { return index }
            let email = "corpus\(patients.count)@example.org"
            try await server.addPatient(email)
            patients.append((try await SyncClient(server: server, email: email, clock: clock), [], 0))
            return patients.count - 1
        }
        defer { for patient in patients { patient.client.close() } }
        for file in Self.files {
            var object = try #require(try Self.load(file).objectValue, "\(file)")
            let identifiers = Set((object["identifier"]?.arrayValue ?? []).map { "\($0["system"]?.stringValue ?? "")|\($0["value"]?.stringValue ?? "")" })
            let index = try await patient(for: identifiers)
            let client = patients[index].client
            patients[index].identifiers.formUnion(identifiers)
            object["subject"] = ["reference": .string("Patient/\(client.patientID)")]
            object["id"] = nil
            let sent = JSONValue.object(object)
            let created = try await client.api.send("POST", "/fhir/Observation", json: sent, token: client.token)
            #expect(created.status == 201, "\(file): \(String(decoding: created.body, as: UTF8.self).prefix(600))")
            guard created.status == 201, let id = created.json?["id"]?.stringValue else { continue }
            let read = try await client.api.read("Observation", id: id, token: client.token)
            #expect(Self.comparable(read) == Self.comparable(sent), "\(file) came back changed")
            if let record = ObservationReader.record(from: read), record.syncState != .withdrawn { patients[index].understood += 1 }
        }
        var understood = 0
        for patient in patients {
            let pulled = await patient.client.engine().pull(patientID: patient.client.patientID)
            #expect(pulled.error == nil, "\(String(describing: pulled.error))")
            let shown = try patient.client.store.measurements(kind: nil, limit: 1_000)
            #expect(shown.count == patient.understood, "every Observation Bedside understands is in the app, the others kept out")
            understood += patient.understood
        }
        #expect(understood >= 10, "the vital signs among them are understood: \(understood)")
        await server.stop()
    }

    @Test("a patient who withdraws a reading another system wrote marks the server's copy entered-in-error and keeps the rest as it was")
    func withdrawKeepsForeignObservation() async throws {
        let clock = ManualClock(epochMilliseconds: 1_795_000_000_000)
        let server = try await LoopbackServer(clock: clock)
        try await server.addPatient("withdraw@example.org")
        let client = try await SyncClient(server: server, email: "withdraw@example.org", clock: clock)
        defer { client.close() }
        var object = try #require(try Self.load("45-isik-blood-pressure-map.json").objectValue)
        object["subject"] = ["reference": .string("Patient/\(client.patientID)")]
        object["id"] = nil
        let sent = JSONValue.object(object)
        let created = try await client.api.send("POST", "/fhir/Observation", json: sent, token: client.token)
        let id = try #require(created.json?["id"]?.stringValue, "\(String(decoding: created.body, as: UTF8.self).prefix(400))")
        let pulled = await client.engine().pull(patientID: client.patientID)
        #expect(pulled.error == nil)
        let record = try #require(try client.store.measurements(kind: .bloodPressure, limit: 10).first { $0.serverID == id })
        #expect(try client.store.delete(id: record.id, now: clock.now()) == false, "a sent reading is withdrawn, not deleted")
        let pushed = await client.engine().push(patientID: client.patientID)
        #expect(pushed.error == nil && pushed.sent == 1, "\(String(describing: pushed.error))")
        let after = try await client.api.read("Observation", id: id, token: client.token)
        #expect(after["status"]?.stringValue == "entered-in-error")
        #expect(after["meta"]?["versionId"]?.stringValue == "2")
        var expected = Self.comparable(sent).objectValue ?? [:]
        expected["status"] = "entered-in-error"
        #expect(Self.comparable(after) == .object(expected), "the ISiK codings, the mean pressure component and the date-only time are all still there")
        await server.stop()
    }

    @Test("more withdrawals than a read batch holds (101): the server's copies are read 100 at a time and every one is withdrawn")
    func manyWithdrawals() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient("withdraw-many@example.org")
        let client = try await SyncClient(server: server, email: "withdraw-many@example.org")
        defer { client.close() }
        let records = try client.addWeights(101)
        let first = await client.push()
        #expect(first.error == nil && first.sent == 101, "\(String(describing: first.error))")
        for record in records { try client.store.delete(id: record.id, now: SystemClock().now()) }
        let second = await client.push()
        #expect(second.error == nil && second.sent == 101, "\(String(describing: second.error))")
        let withdrawn = try await server.store.read { db in
            var query = ResourceQuery(type: "Observation")
            query.statuses = ["entered-in-error"]
            query.count = 1000
            return try db.search(query).resources.count
        }
        #expect(withdrawn == 101)
        await server.stop()
    }
}
