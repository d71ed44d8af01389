import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

@testable import BedsideServerKit

/// The end of care, retention and erasure: data handed over whole, then gone from every file; patients
/// in care never touched; the audit keeps the erasure and stays intact.
@Suite("Retention and erasure")
struct RetentionTests {
    static let noteSentinel = "ERASE-ME-NOTE-4417"
    static let identifierSentinel = "erase-me-identifier-8832"

    /// A patient with readings (one of them corrected, so there is history) and a clinician who sees them.
    struct Fixture {
        var patientID: String
        var email: String
        var token: String
    }

    static func patient(_ server: TestServer, _ email: String, readings: Int = 3, nurse: String? = nil) async throws -> Fixture {
        let account = try await server.addPatient(email, name: "Erasable Person")
        let patientID = try #require(account.patientID)
        if let nurse { try await server.administration.addTeamMember(clinicianEmail: nurse, patientEmail: email) }
        let token = try await server.login(email).token
        var first: JSONValue?
        for index in 0..<readings {
            let answer = try await server.request(
                "POST", "/fhir/Observation", token: token,
                json: server.weight(80 + Double(index), patientID: patientID, clientID: "\(identifierSentinel)-\(email)-\(index)", note: "\(noteSentinel) \(index)"))
            #expect(answer.status == 201, "\(answer.text)")
            if first == nil { first = answer.json }
        }
        // A correction: the first reading's earlier version goes to the history.
        if var corrected = first?.objectValue, let id = corrected["id"]?.stringValue {
            corrected["status"] = "amended"
            let put = try await server.request("PUT", "/fhir/Observation/\(id)", token: token, json: .object(corrected), headers: [("If-Match", "W/\"1\"")])
            #expect(put.status == 200, "\(put.text)")
            #expect(put.json?["status"]?.stringValue == "amended", "\(put.text)")
        }
        return Fixture(patientID: patientID, email: email, token: token)
    }

    /// The sealed values and index entries of a patient as stored (read with a connection of its own).
    static func storedTraces(_ server: TestServer, patientID: String) throws -> [Data] {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: server.directory.appendingPathComponent("bedside-server.sqlite").path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read { db in
            let sealed = try Data.fetchAll(
                db,
                sql: """
                    SELECT json FROM resource WHERE patient_id = ?1
                    UNION ALL SELECT h.json FROM resource_history h JOIN resource r ON r.type = h.type AND r.id = h.id WHERE r.patient_id = ?1
                    UNION ALL SELECT email FROM account WHERE patient_id = ?1
                    UNION ALL SELECT display_name FROM account WHERE patient_id = ?1
                    """, arguments: [patientID])
            let indexes = try String.fetchAll(db, sql: "SELECT email_index FROM account WHERE patient_id = ?", arguments: [patientID])
            // 24 bytes from the middle of each sealed value: random-looking, found only where that value is.
            return sealed.map { value in value.count > 48 ? value.subdata(in: 16..<40) : value } + indexes.map { Data($0.utf8) }
        }
    }

    /// How many of `traces` some file of the data directory holds (the dev mailbox aside).
    static func tracesFound(_ traces: [Data], under directory: URL) throws -> Int {
        var found = Set<Int>()
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        while let name = enumerator?.nextObject() as? String {
            if name == "mail" || name.hasPrefix("mail/") { continue }
            let path = directory.path + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            for (index, trace) in traces.enumerated() where bytes.range(of: trace) != nil { found.insert(index) }
        }
        return found.count
    }

    static func handOverDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("bedside-handover-\(UUID().uuidString)")
    }

    @Test("patient erase hands the data over whole (NDJSON per type, manifest, 0600/0700), then nothing of it is in any server file")
    func eraseLeavesNoTrace() async throws {
        let handOver = Self.handOverDirectory()
        defer { try? FileManager.default.removeItem(at: handOver) }
        try await withServer { server in
            try await server.addClinician("nurse.erase@example.org")
            let erased = try await Self.patient(server, "erased@example.org", nurse: "nurse.erase@example.org")
            let kept = try await Self.patient(server, "kept@example.org", nurse: "nurse.erase@example.org")
            let erasedTraces = try Self.storedTraces(server, patientID: erased.patientID)
            let keptTraces = try Self.storedTraces(server, patientID: kept.patientID)
            #expect(erasedTraces.count >= 8, "4 bodies, 1 earlier version, e-mail, name, e-mail index")
            #expect(try Self.tracesFound(erasedTraces + [Data(Self.identifierSentinel.utf8)], under: server.directory) == erasedTraces.count + 1)

            let held = try await server.store.read { db in try db.patientDataSummary(patientID: erased.patientID) }
            let report = try await server.administration.erase(.email("erased@example.org"), handOverTo: handOver)
            #expect(report.patientID == erased.patientID)
            #expect(report.handedOver["Patient"] == 1 && report.handedOver["Observation"] == 3 && report.handedOver["CareTeam"] == 1)
            #expect(report.handedOver.values.reduce(0, +) == held.resources, "the alerts the readings raised too")
            #expect(report.erased.resources == held.resources && report.erased.accounts == 1 && report.removal == .removed)
            #expect(report.erased.historyVersions == held.historyVersions && held.historyVersions >= 1, "every earlier version")

            // The hand-over: what the organisation keeps.
            let folder = handOver.appendingPathComponent(erased.patientID)
            #expect(report.handOver.standardizedFileURL == folder.standardizedFileURL)
            let observations = try String(contentsOf: folder.appendingPathComponent("Observation.ndjson"), encoding: .utf8)
                .split(separator: "\n").map { try #require(JSONParser.parseOrNil(Array($0.utf8))) }
            #expect(observations.count == 3)
            #expect(observations.allSatisfy { $0["note"]?.arrayValue?.first?["text"]?.stringValue?.hasPrefix(Self.noteSentinel) == true })
            #expect(observations.contains { $0["status"]?.stringValue == "amended" }, "the current version")
            let earlier = try String(contentsOf: folder.appendingPathComponent("Observation-history.ndjson"), encoding: .utf8)
                .split(separator: "\n").map { try #require(JSONParser.parseOrNil(Array($0.utf8))) }
            #expect(earlier.count == 1 && earlier.first?["status"]?.stringValue == "final" && earlier.first?["meta"]?["versionId"]?.stringValue == "1",
                "the version before the correction is handed over too")
            let manifest = try #require(JSONParser.parseOrNil(Array(try Data(contentsOf: folder.appendingPathComponent("manifest.json")))))
            let outputs = manifest["output"]?.arrayValue?.map { "\($0["type"]?.stringValue ?? "")=\($0["count"]?.intValue ?? -1)" }
            #expect(outputs?.count == report.handedOver.count && outputs?.contains("Observation=3") == true)
            #expect(try FileManager.default.attributesOfItem(atPath: folder.path)[.posixPermissions] as? Int == 0o700)
            #expect(try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("Observation.ndjson").path)[.posixPermissions] as? Int == 0o600)
            #expect(!(try FileManager.default.contentsOfDirectory(atPath: handOver.path)).contains { $0.hasPrefix(".") }, "no temporary left")

            // Nothing of the erased patient in any file of the server; the other patient is all there.
            #expect(try Self.tracesFound(erasedTraces, under: server.directory) == 0)
            #expect(try Self.tracesFound([Data("\(Self.identifierSentinel)-erased".utf8)], under: server.directory) == 0, "identifier index entries")
            #expect(try Self.tracesFound(keptTraces, under: server.directory) == keptTraces.count)

            // The API: the erased patient's session and data are gone; the other is served as before.
            #expect(try await server.request("GET", "/fhir/Observation", token: erased.token).status == 401)
            let unknown = try await server.startLogin("never.existed@example.org")
            #expect(try await server.startLogin("erased@example.org").status == unknown.status, "as for an address never known")
            let nurse = try await server.login("nurse.erase@example.org").token
            let seen = try await server.request("GET", "/fhir/Observation", token: nurse).entries
            #expect(seen.count == 3 && seen.allSatisfy { $0["resource"]?["subject"]?["reference"]?.stringValue == "Patient/\(kept.patientID)" })
            #expect(try await server.request("GET", "/fhir/Patient/\(erased.patientID)", token: nurse).status == 404)

            // The audit: the erasure, by whom, for the Patient id; the chain intact.
            let links = try await server.store.read { db in try db.auditLinks(after: 0, limit: 10_000) }
            let erasure = try #require(links.last { $0.event.action == "erase" }?.event)
            #expect(erasure.patientID == erased.patientID && erasure.actorID == "command-line" && erasure.resourceType == "Patient")
            var verifier = AuditChain.Verifier(key: server.store.keys.audit)
            for link in links { try verifier.check(link) }
        }
    }

    @Test("retention hands over and erases only patients whose care ended more than N years ago; patients in care, recently ended or taken back into care stay whole")
    func retentionTouchesOnlyLongEndedCare() async throws {
        let handOver = Self.handOverDirectory()
        defer { try? FileManager.default.removeItem(at: handOver) }
        try await withServer { server in
            try await server.addClinician("nurse.retention@example.org")
            let longEnded = try await Self.patient(server, "long.ended@example.org", nurse: "nurse.retention@example.org")
            let recentlyEnded = try await Self.patient(server, "recent@example.org", nurse: "nurse.retention@example.org")
            let inCare = try await Self.patient(server, "in.care@example.org", nurse: "nurse.retention@example.org")
            let resumed = try await Self.patient(server, "resumed@example.org", nurse: "nurse.retention@example.org")
            let never = try await Self.patient(server, "no.team@example.org")
            let administration = server.administration
            // The test clock is 2026-11-18.
            try await administration.endCare(of: .email("long.ended@example.org"), date: "2023-05-01")
            try await administration.endCare(of: .email("recent@example.org"), date: "2025-06-01")
            try await administration.endCare(of: .email("resumed@example.org"), date: "2022-01-10")
            try await administration.addTeamMember(clinicianEmail: "nurse.retention@example.org", patientEmail: "resumed@example.org")

            let nurse = try await server.login("nurse.retention@example.org").token
            let seen = Set(try await server.request("GET", "/fhir/Patient", token: nurse).entries.compactMap { $0["resource"]?["id"]?.stringValue })
            #expect(seen == [inCare.patientID, resumed.patientID], "ended care: the team no longer sees them; team add takes them back")

            let run = RetentionRun(store: server.store, clock: server.clock, policy: RetentionPolicy(years: 2))
            #expect(try await run.candidates().map(\.careEnd.patientID) == [longEnded.patientID])
            let others = [recentlyEnded, inCare, resumed, never]
            let before = try await server.store.read { db in try others.map { try db.patientDataSummary(patientID: $0.patientID) } }

            let outcomes = try await run.apply(handOverTo: handOver, actor: .commandLine)
            #expect(outcomes.count == 1)
            guard case .erased(let report)? = outcomes.first else { throw TestFailure("not erased: \(outcomes)") }
            #expect(report.patientID == longEnded.patientID)
            let after = try await server.store.read { db in try others.map { try db.patientDataSummary(patientID: $0.patientID) } }
            #expect(after == before, "nobody else changed")
            #expect(try await server.store.read { db in try db.patientDataSummary(patientID: longEnded.patientID) } == PatientDataSummary())
            #expect(try await run.candidates().isEmpty)
            #expect(try await RetentionRun(store: server.store, clock: server.clock, policy: RetentionPolicy(years: 1)).candidates()
                .map(\.careEnd.patientID) == [recentlyEnded.patientID])
        }
    }

    @Test("an EMR that makes a patient's last CareTeam inactive ends their care at the team's period end; an active one takes it back", arguments: StoreBackend.allCases)
    func careTeamEndsCare(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("emr.cared@example.org")
            let patientID = try #require(patient.patientID)
            let emr = TestEMR()
            let clientID = try await server.register(emr, scopes: "system/CareTeam.cruds")
            let token = try await server.systemToken(emr, clientID: clientID, scope: "system/CareTeam.cruds")
            let careTeam: JSONValue = [
                "resourceType": "CareTeam", "status": "active", "subject": ["reference": .string("Patient/\(patientID)")],
                "period": ["start": "2021-02-01"],
            ]
            let created = try await server.request("POST", "/fhir/CareTeam", token: token, json: careTeam)
            #expect(created.status == 201, "\(created.text)")
            #expect(try await server.store.read { db in try db.careEnd(patientID: patientID) } == nil)
            var ended = try #require(created.json?.objectValue)
            ended["status"] = "inactive"
            ended["period"] = ["start": "2021-02-01", "end": "2023-03-15"]
            let id = try #require(ended["id"]?.stringValue)
            let put = try await server.request("PUT", "/fhir/CareTeam/\(id)", token: token, json: .object(ended), headers: [("If-Match", "W/\"1\"")])
            #expect(put.status == 200, "\(put.text)")
            let end = try await server.store.read { db in try db.careEnd(patientID: patientID) }
            #expect(end?.source == .careTeam && end?.endedAt == FHIRDateTime("2023-03-15")?.upperBound, "the end of that day")
            ended["status"] = "active"
            ended["period"] = ["start": "2021-02-01"]
            let again = try await server.request("PUT", "/fhir/CareTeam/\(id)", token: token, json: .object(ended), headers: [("If-Match", "W/\"2\"")])
            #expect(again.status == 200, "\(again.text)")
            #expect(try await server.store.read { db in try db.careEnd(patientID: patientID) } == nil, "in care again")
        }
    }

    @Test("end-care refuses a date in the future, a malformed one and an unknown patient, and changes nothing", arguments: StoreBackend.allCases)
    func endCareRefusals(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.addPatient("refused@example.org")
            let administration = server.administration
            let audit = try await server.store.read { db in try db.auditEvents(after: 0, limit: 1000).count }
            for (selector, date) in [
                (ServerAdministration.PatientSelector.email("refused@example.org"), "2031-01-01"), (.email("refused@example.org"), "01-05-2023"),
                (.email("refused@example.org"), "2023-05-01T10:00:00"), (.email("nobody@example.org"), "2023-05-01"), (.patientID("no-such-id"), "2023-05-01"),
                (.patientID("../etc"), "2023-05-01"),
            ] {
                await #expect(throws: AdministrationError.self) { try await administration.endCare(of: selector, date: date) }
            }
            #expect(try await server.store.read { db in try db.auditEvents(after: 0, limit: 1000).count } == audit)
            await #expect(throws: AdministrationError.self) {
                try await administration.erase(.email("nobody@example.org"), handOverTo: Self.handOverDirectory())
            }
        }
    }

    /// The store, with one write of the test's own slipped in before the first write asked for.
    /// A store through which another writer's transaction slips in before this store's own writes (or
    /// reads), until it says it has done its work.
    final class InterleavingStore: ServerStore, @unchecked Sendable {
        enum Moment { case beforeWrites, beforeReads }
        let inner: any ServerStore
        let moment: Moment
        /// The other writer's transaction; true once it has done its work (it does not come again).
        let slippedIn: @Sendable (any StoreWriting) throws -> Bool
        private let done = Mutex(false)

        init(_ inner: any ServerStore, at moment: Moment = .beforeWrites, slippedIn: @escaping @Sendable (any StoreWriting) throws -> Bool) {
            self.inner = inner
            self.moment = moment
            self.slippedIn = slippedIn
        }

        private func interleave(_ now: Moment) async throws {
            guard now == moment, !done.withLock({ $0 }) else { return }
            if try await inner.write(slippedIn) { done.withLock { $0 = true } }
        }

        var keys: StoreKeys { inner.keys }
        func read<T: Sendable>(_ work: @escaping @Sendable (any StoreReading) throws -> T) async throws -> T {
            try await interleave(.beforeReads)
            return try await inner.read(work)
        }
        func write<T: Sendable>(_ work: @escaping @Sendable (any StoreWriting) throws -> T) async throws -> T {
            try await interleave(.beforeWrites)
            return try await inner.write(work)
        }
        func close() throws { try inner.close() }
        func shutdown() async throws { try await inner.shutdown() }
        func removeDeletedData() async throws -> DeletedDataRemoval { try await inner.removeDeletedData() }
        func leads(_ job: ScheduledJob) async -> Bool { await inner.leads(job) }
    }

    @Test("a reading that arrives while the data is handed over stops the erasure: nothing is deleted, the partial hand-over is removed")
    func readingDuringHandOverStopsErasure() async throws {
        let handOver = Self.handOverDirectory()
        defer { try? FileManager.default.removeItem(at: handOver) }
        try await withServer { server in
            let patient = try await Self.patient(server, "busy@example.org")
            let before = try await server.store.read { db in try db.patientDataSummary(patientID: patient.patientID) }
            let late = ObservationBuilder.observation(
                kind: .heartRate, values: [.init(part: .heartRate, value: 64)], effective: server.now(), patientID: patient.patientID,
                clientID: UUID().uuidString.lowercased())
            let store = InterleavingStore(server.store) { db in
                try db.put(FHIRService.stamp(late, type: .observation, id: "late-reading", version: 1, at: server.clock.now()))
                return true
            }
            let erasure = PatientErasure(store: store, clock: server.clock)
            await #expect(throws: RetentionError(
                .changedDuringHandOver, "The data of Patient/\(patient.patientID) changed while it was handed over; nothing was erased. Run it again.")
            ) {
                try await erasure.erase(patientID: patient.patientID, handOverTo: handOver, actor: .commandLine, reason: "test")
            }
            let after = try await server.store.read { db in try db.patientDataSummary(patientID: patient.patientID) }
            #expect(after.resources == before.resources + 1)
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: handOver.path)) ?? []).isEmpty)
            #expect(try await server.store.read { db in try db.account(patientID: patient.patientID) } != nil)
        }
    }

    @Test("serve's daily run (--retention-years) hands over and erases on its own, and logs only the Patient id")
    func scheduledRetention() async throws {
        let handOver = Self.handOverDirectory()
        defer { try? FileManager.default.removeItem(at: handOver) }
        var schedule = RetentionSchedule(policy: RetentionPolicy(years: 2), directory: handOver)
        schedule.firstRunAfter = .milliseconds(100)
        schedule.interval = .milliseconds(200)
        try await withServer(configure: { $0.retention = schedule }) { server in
            let patient = try await Self.patient(server, "scheduled@example.org")
            let other = try await Self.patient(server, "stays@example.org")
            let otherHeld = try await server.store.read { db in try db.patientDataSummary(patientID: other.patientID) }
            try await server.administration.endCare(of: .email("scheduled@example.org"), date: "2020-02-02")
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, try await server.store.read({ db in try db.account(patientID: patient.patientID) }) != nil {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await server.store.read { db in try db.patientDataSummary(patientID: patient.patientID) } == PatientDataSummary())
            #expect(FileManager.default.fileExists(atPath: handOver.appendingPathComponent(patient.patientID).appendingPathComponent("manifest.json").path))
            #expect(try await server.store.read { db in try db.patientDataSummary(patientID: other.patientID) } == otherHeld)
            let erasure = try await server.store.read { db in try db.auditEvents(after: 0, limit: 10_000) }.map(\.event).last { $0.action == "erase" }
            #expect(erasure?.actorID == "retention" && erasure?.actorRole == "system" && erasure?.patientID == patient.patientID)
        }
    }
}
