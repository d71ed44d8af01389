import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

@Suite("Bulk Data $export")
struct BulkExportTests {
    static let scopes = "system/Patient.rs system/Observation.rs system/Group.crs system/Flag.rs"
    static let prefer: [(String, String)] = [("Prefer", "respond-async"), ("Accept", "application/fhir+json")]

    struct Setup {
        var patients: [String]
        var patientToken: String
        var emr: TestEMR
        var clientID: String
        var token: String
    }

    /// Two patients with `observations` weights each (written by the patients), and an EMR's token.
    func setUp(_ server: TestServer, observations: Int = 3, scopes: String = BulkExportTests.scopes) async throws -> Setup {
        var patients: [String] = []
        var firstToken = ""
        for index in 0..<2 {
            let account = try await server.addPatient("bulk-\(index)-\(UUID().uuidString.prefix(6))@example.org")
            let patientID = try #require(account.patientID)
            let token = try await server.login(account.email).token
            if index == 0 { firstToken = token }
            for kilograms in 0..<observations {
                let created = try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(70 + Double(kilograms), patientID: patientID))
                #expect(created.status == 201, "\(created.text)")
            }
            patients.append(patientID)
        }
        let emr = TestEMR()
        let clientID = try await server.register(emr, scopes: scopes)
        let token = try await server.systemToken(emr, clientID: clientID, scope: scopes)
        return Setup(patients: patients, patientToken: firstToken, emr: emr, clientID: clientID, token: token)
    }

    /// A system export of Observations stored directly, as a server that stopped (or another instance)
    /// left it: not kicked off, so no worker is woken.
    func storedJob(
        _ server: TestServer, _ setup: Setup, status: ExportJobRecord.Status, attempt: String? = nil, at time: Int64? = nil
    ) async throws -> ExportJobRecord {
        let request = ExportRequest(level: .system, types: [.observation], since: nil, requestURL: server.baseURL + "/fhir/$export")
        let at = time ?? server.clock.now()
        var job = ExportJobRecord(
            id: Secrets.randomHex(bytes: 16), clientID: setup.clientID, request: request.json.serialized(), status: status, createdAt: at,
            transactionTime: at)
        job.attempt = attempt
        let stored = job
        try await server.store.write { db in try db.insert(stored) }
        return job
    }

    /// Kicks off; returns the status path (from Content-Location).
    func kickOff(_ server: TestServer, _ path: String, token: String) async throws -> String {
        let answer = try await server.request("GET", path, token: token, headers: Self.prefer)
        #expect(answer.status == 202, "\(answer.text)")
        let location = try #require(answer.headers.first { $0.0.lowercased() == "content-location" }?.1)
        #expect(location.hasPrefix(server.baseURL + "/bulk/"))
        return String(location.dropFirst(server.baseURL.count))
    }

    /// Polls until the manifest (or fails after about 20 s); a 202 on the way carries X-Progress and Retry-After.
    func manifest(_ server: TestServer, _ statusPath: String, token: String) async throws -> HTTPResponseData {
        for _ in 0..<400 {
            let answer = try await server.request("GET", statusPath, token: token)
            if answer.status != 202 { return answer }
            #expect(answer.header("x-progress") != nil && answer.header("retry-after") != nil)
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("the export at \(statusPath) did not finish")
    }

    /// Every file of a manifest, fetched with the token: type → resources (each line parsed on its own).
    func download(_ server: TestServer, _ manifest: JSONValue, token: String) async throws -> [String: [JSONValue]] {
        var byType: [String: [JSONValue]] = [:]
        for file in manifest["output"]?.arrayValue ?? [] {
            let type = try #require(file["type"]?.stringValue)
            let url = try #require(file["url"]?.stringValue)
            #expect(url.hasPrefix(server.baseURL + "/bulk/"))
            let answer = try await server.request("GET", String(url.dropFirst(server.baseURL.count)), token: token)
            #expect(answer.status == 200)
            #expect(answer.header("content-type") == "application/fhir+ndjson")
            let lines = answer.text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.last == "", "each line ends with a newline")
            let resources = try lines.dropLast().map { line in
                let resource = try #require(JSONParser.parseOrNil(Array(line.utf8)), "a line that is not JSON: \(line.prefix(80))")
                #expect(resource["resourceType"]?.stringValue == type)
                return resource
            }
            #expect(resources.count == file["count"]?.intValue)
            byType[type, default: []] += resources
        }
        return byType
    }

    /// Kick-off, manifest, every file, then DELETE (a client holds two exports at most).
    func exportAll(_ server: TestServer, _ path: String, token: String) async throws -> [String: [JSONValue]] {
        let status = try await kickOff(server, path, token: token)
        let answer = try await manifest(server, status, token: token)
        #expect(answer.status == 200, "\(answer.text)")
        let files = try await download(server, try #require(answer.json), token: token)
        #expect(try await server.request("DELETE", status, token: token).status == 202)
        return files
    }

    @Test("a system export: 202 with a status URL, then the manifest; each NDJSON file holds its type, one resource a line, with the EMR's token only; DELETE removes the files; all audited", arguments: StoreBackend.allCases)
    func systemExport(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let setup = try await setUp(server)
            let status = try await kickOff(server, "/fhir/$export?_type=Patient,Observation", token: setup.token)
            let answer = try await manifest(server, status, token: setup.token)
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.header("content-type")?.hasPrefix("application/json") == true)
            #expect(answer.header("expires") != nil)
            let manifest = try #require(answer.json)
            #expect(manifest["requiresAccessToken"]?.boolValue == true)
            #expect(manifest["request"]?.stringValue == server.baseURL + "/fhir/$export?_type=Patient,Observation")
            #expect(manifest["transactionTime"]?.stringValue.flatMap(FHIRDateTime.init) != nil)
            let exported = try await download(server, manifest, token: setup.token)
            #expect(Set(exported.keys) == ["Patient", "Observation"])
            #expect(Set(exported["Patient"]?.compactMap { $0["id"]?.stringValue } ?? []) == Set(setup.patients))
            #expect(exported["Observation"]?.count == 6)

            // On disk: the job's own directory, files only the server's user reads.
            let jobID = String(status.dropFirst("/bulk/".count))
            let exports = server.directory.appendingPathComponent("exports")
            let job = try #require(try await server.store.read { db in try db.exportJob(id: jobID) })
            let folder = BulkExportSettings(directory: exports).folder(of: job)
            #expect(folder.deletingLastPathComponent().lastPathComponent == jobID && BulkExports.isAttempt(folder.lastPathComponent))
            let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            #expect(names.count == 2)
            for name in names {
                let mode = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(name)")
            }

            // Nobody else: no token, a patient, another EMR.
            let file = try #require(manifest["output"]?.arrayValue?.first?["url"]?.stringValue).dropFirst(server.baseURL.count)
            #expect(try await server.request("GET", status).status == 401)
            #expect(try await server.request("GET", String(file)).status == 401)
            #expect(try await server.request("GET", status, token: setup.patientToken).status == 403)
            let other = TestEMR(kid: "other")
            let otherID = try await server.register(other, scopes: Self.scopes, name: "Other EMR")
            let otherToken = try await server.systemToken(other, clientID: otherID, scope: Self.scopes)
            #expect(try await server.request("GET", status, token: otherToken).status == 404)
            #expect(try await server.request("GET", String(file), token: otherToken).status == 404)
            #expect(try await server.request("DELETE", status, token: otherToken).status == 404)
            #expect(try await server.request("GET", status + "/../../etc", token: setup.token).status == 404)
            #expect(try await server.request("GET", status + "/Patient-9.ndjson", token: setup.token).status == 404)

            let deleted = try await server.request("DELETE", status, token: setup.token)
            #expect(deleted.status == 202)
            #expect(try await server.request("GET", status, token: setup.token).status == 404)
            #expect(try await server.request("GET", String(file), token: setup.token).status == 404)
            #expect(!FileManager.default.fileExists(atPath: folder.path))

            await server.running.flushAudit()
            let events = try await server.store.read { db in try db.auditEvents(after: 0, limit: 10_000) }.map(\.event)
            for action in ["export", "export-run", "export-download", "export-delete"] {
                #expect(events.contains { $0.action == action && $0.actorID == setup.clientID }, "\(action)")
            }
            let handedOver = Set(events.filter { $0.action == "export-run" }.compactMap(\.patientID))
            #expect(handedOver == Set(setup.patients), "the audit names each patient whose data left")
        }
    }

    @Test("Patient and Group exports hold the compartments asked for; _since keeps what changed after it; a Group's members must exist and people never see Groups", arguments: StoreBackend.allCases)
    func compartments(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let setup = try await setUp(server, observations: 2)
            let first = setup.patients[0]

            let group: JSONValue = [
                "resourceType": "Group", "type": "person", "actual": true, "name": "Heart failure, ward 3",
                "member": [["entity": ["reference": .string("Patient/\(first)")]]],
            ]
            let created = try await server.request("POST", "/fhir/Group", token: setup.token, json: group)
            #expect(created.status == 201, "\(created.text)")
            let groupID = try #require(created.json?["id"]?.stringValue)
            let unknown: JSONValue = [
                "resourceType": "Group", "type": "person", "actual": true, "member": [["entity": ["reference": "Patient/no-such-patient"]]],
            ]
            let refused = try await server.request("POST", "/fhir/Group", token: setup.token, json: unknown)
            #expect((400..<500).contains(refused.status), "\(refused.text)")
            #expect(try await server.request("GET", "/fhir/Group/\(groupID)", token: setup.patientToken).status == 404)

            let grouped = try await exportAll(server, "/fhir/Group/\(groupID)/$export", token: setup.token)
            #expect(grouped["Patient"]?.compactMap { $0["id"]?.stringValue } == [first])
            #expect(grouped["Observation"]?.count == 2)
            #expect(grouped["Observation"]?.allSatisfy { $0["subject"]?["reference"]?.stringValue == "Patient/\(first)" } == true)
            #expect(grouped["Group"] == nil, "a compartment export holds compartment types only")

            let all = try await exportAll(server, "/fhir/Patient/$export?_type=Observation", token: setup.token)
            #expect(Array(all.keys) == ["Observation"] && all["Observation"]?.count == 4)

            // _since: only what changed after the instant.
            server.clock.advance(minutes: 10)
            let since = FHIRDateTime.format(epochMilliseconds: server.clock.now() - 1_000)
            let late = try await server.request("POST", "/fhir/Observation", token: setup.patientToken, json: server.weight(81, patientID: first))
            let lateID = try #require(late.json?["id"]?.stringValue)
            // The EMR's token lasts five minutes: a fresh one.
            let token = try await server.systemToken(setup.emr, clientID: setup.clientID, scope: Self.scopes)
            let query = "_type=Observation&_since=\(since.replacingOccurrences(of: "+", with: "%2B"))"
            let recent = try await exportAll(server, "/fhir/$export?\(query)", token: token)
            #expect(recent["Observation"]?.compactMap { $0["id"]?.stringValue } == [lateID])
        }
    }

    @Test("kick-offs that cannot be honoured are refused with an OperationOutcome and start nothing", arguments: StoreBackend.allCases)
    func refusals(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let setup = try await setUp(server, observations: 0, scopes: "system/Patient.rs system/Group.rs")
            func status(_ path: String, token: String?, prefer: Bool = true) async throws -> (Int, String?) {
                let answer = try await server.request("GET", path, token: token, headers: prefer ? Self.prefer : [])
                if answer.status != 202 { #expect(answer.json?["resourceType"]?.stringValue == "OperationOutcome", "\(path)") }
                return (answer.status, answer.issueExpression)
            }
            #expect(try await status("/fhir/$export", token: setup.token, prefer: false).0 == 400, "synchronous export is not offered")
            #expect(try await status("/fhir/$export", token: nil).0 == 401)
            #expect(try await status("/fhir/$export", token: setup.patientToken).0 == 403)
            #expect(try await status("/fhir/$export?_type=Observation", token: setup.token).0 == 403, "no Observation scope")
            #expect(try await status("/fhir/$export?_type=Bogus", token: setup.token) == (400, "_type"))
            #expect(try await status("/fhir/Patient/$export?_type=Group", token: setup.token) == (400, "_type"))
            #expect(try await status("/fhir/$export?_type=Subscription", token: setup.token) == (400, "_type"))
            #expect(try await status("/fhir/$export?_typeFilter=Patient%3Factive%3Dtrue", token: setup.token) == (400, "_typeFilter"))
            #expect(try await status("/fhir/$export?_outputFormat=text%2Fcsv", token: setup.token) == (400, "_outputFormat"))
            #expect(try await status("/fhir/$export?_since=yesterday", token: setup.token) == (400, "_since"))
            #expect(try await status("/fhir/$export?color=blue", token: setup.token).0 == 400)
            #expect(try await status("/fhir/Group/no-such-group/$export", token: setup.token).0 == 404)
            #expect(try await status("/fhir/Observation/x/$export", token: setup.token).0 == 404)
            #expect(try await server.request("GET", "/bulk/not-a-job", token: setup.token).status == 404)
            #expect(try await server.request("GET", "/bulk/\(String(repeating: "a", count: 32))", token: setup.token).status == 404)
            let jobs = try await server.store.read { db in try db.heldExportJobs(clientID: setup.clientID, at: server.clock.now()) }
            #expect(jobs.isEmpty)

            // Read by id is not enough: an export is a search over everything.
            let reader = TestEMR(kid: "reader")
            let readerID = try await server.register(reader, scopes: "system/Observation.r system/Patient.rs", name: "Reader")
            let readerToken = try await server.systemToken(reader, clientID: readerID, scope: "system/Observation.r system/Patient.rs")
            #expect(try await status("/fhir/$export?_type=Observation", token: readerToken).0 == 403)

            // Two exports held at once; a third waits until one is deleted.
            let first = try await kickOff(server, "/fhir/$export?_type=Patient", token: readerToken)
            _ = try await kickOff(server, "/fhir/$export?_type=Patient", token: readerToken)
            #expect(try await manifest(server, first, token: readerToken).status == 200)
            #expect(try await status("/fhir/$export?_type=Patient", token: readerToken).0 == 429)
            #expect(try await server.request("DELETE", first, token: readerToken).status == 202)
            _ = try await kickOff(server, "/fhir/$export?_type=Patient", token: readerToken)
        }
    }

    @Test("a finished export's files go after the retention time; a job the server stopped in the middle runs again at the next start", arguments: StoreBackend.allCases)
    func retentionAndResume(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let setup = try await setUp(server, observations: 1)
            let status = try await kickOff(server, "/fhir/$export?_type=Observation", token: setup.token)
            #expect(try await manifest(server, status, token: setup.token).status == 200)
            let jobID = String(status.dropFirst("/bulk/".count))
            let exports = server.directory.appendingPathComponent("exports")
            #expect(FileManager.default.fileExists(atPath: exports.appendingPathComponent(jobID).path))

            // The server's own worker (a second one would race its 30-second tick for the same jobs).
            let worker = server.running.exportWorker
            await worker.purge()
            #expect(FileManager.default.fileExists(atPath: exports.appendingPathComponent(jobID).path), "kept within its time")
            server.clock.advance(minutes: 121)
            let token = try await server.systemToken(setup.emr, clientID: setup.clientID, scope: Self.scopes)
            #expect(try await server.request("GET", status, token: token).status == 404, "expired: as if it never was")
            await worker.purge()
            #expect(!FileManager.default.fileExists(atPath: exports.appendingPathComponent(jobID).path))
            #expect(try await server.store.read { db in try db.exportJob(id: jobID) } == nil)

            // A job left `running` by a server that died, with a half-written file.
            let stranded = try await storedJob(server, setup, status: .running)
            let half = exports.appendingPathComponent(stranded.id)
            try FileManager.default.createDirectory(at: half, withIntermediateDirectories: true)
            try Data("{\"resourceType\":\"Obs".utf8).write(to: half.appendingPathComponent("Observation-1.ndjson"))
            await worker.resume()
            let resumed = try await manifest(server, "/bulk/\(stranded.id)", token: token)
            #expect(resumed.status == 200, "\(resumed.text)")
            let files = try await download(server, try #require(resumed.json), token: token)
            #expect(files["Observation"]?.count == 2)
        }
    }

    @Test("a run replaced by another (its instance stopped leading exports) stops, records nothing, and removes only its own files", arguments: StoreBackend.allCases)
    func replacedRunStops(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let setup = try await setUp(server, observations: 3)
            let job = try await storedJob(server, setup, status: .accepted)
            let exports = FileManager.default.temporaryDirectory.appendingPathComponent("replaced-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: exports) }
            // Another instance's run, which replaced this one's: its own folder, being written.
            let successor = "0123456789abcdef"
            let successorFile = exports.appendingPathComponent(job.id).appendingPathComponent(successor).appendingPathComponent("Observation-1.ndjson")
            // Once this worker's run has claimed the job, before its next read.
            let store = RetentionTests.InterleavingStore(server.store, at: .beforeReads) { db in
                guard var taken = try db.exportJob(id: job.id), taken.status == .running, taken.attempt != nil else { return false }
                taken.attempt = successor
                try db.update(taken)
                try FileManager.default.createDirectory(at: successorFile.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data("being written".utf8).write(to: successorFile)
                return true
            }
            let worker = ExportWorker(
                store: store, clock: server.clock, auditRecorder: server.running.auditRecorder, settings: BulkExportSettings(directory: exports))
            await worker.tick()
            await worker.waitUntilIdle()
            await worker.stop()
            let after = try #require(try await server.store.read { db in try db.exportJob(id: job.id) })
            #expect(after.status == .running && after.attempt == successor && after.manifest == nil, "\(after)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: exports.appendingPathComponent(job.id).path) == [successor])
            #expect(FileManager.default.fileExists(atPath: successorFile.path), "the successor's file is left alone")
            let audit = try await server.store.read { db in try db.auditEvents(after: 0, limit: 1_000).map(\.event) }
            #expect(!audit.contains { $0.action == "export-run" && $0.resourceID == job.id })
        }
    }

    @Test("an instance taking exports over puts back what was running and removes only that run's folder, then runs it anew", arguments: StoreBackend.allCases)
    func takeOverRemovesOnlyThatRun(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let setup = try await setUp(server, observations: 1)
            let job = try await storedJob(server, setup, status: .running, attempt: "aaaaaaaaaaaaaaaa")
            let exports = FileManager.default.temporaryDirectory.appendingPathComponent("takeover-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: exports) }
            let left = exports.appendingPathComponent(job.id).appendingPathComponent("aaaaaaaaaaaaaaaa")
            let beside = exports.appendingPathComponent(job.id).appendingPathComponent("bbbbbbbbbbbbbbbb")
            for folder in [left, beside] {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try Data("half".utf8).write(to: folder.appendingPathComponent("Observation-1.ndjson"))
            }
            let worker = ExportWorker(
                store: server.store, clock: server.clock, auditRecorder: server.running.auditRecorder, settings: BulkExportSettings(directory: exports))
            await worker.tick()
            await worker.waitUntilIdle()
            await worker.stop()
            let jobID = job.id
            let stored = try await server.store.read { db in try db.exportJob(id: jobID) }
            let after = try #require(stored)
            #expect(after.status == .complete && after.attempt != nil && after.attempt != job.attempt, "\(after)")
            #expect(!FileManager.default.fileExists(atPath: left.path), "the run put back is gone")
            #expect(FileManager.default.fileExists(atPath: beside.path), "another run's folder is not touched")
            let written = BulkExportSettings(directory: exports).folder(of: after)
            #expect(FileManager.default.fileExists(atPath: written.appendingPathComponent("Observation-1.ndjson").path))
        }
    }

    @Test("an export holds what was there at its transactionTime: a resource changed since in its version then, one made since not at all", arguments: StoreBackend.allCases)
    func asOfTransactionTime(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let setup = try await setUp(server, observations: 1)
            let before = try await server.request("GET", "/fhir/Observation", token: setup.token).entries.compactMap { $0["resource"] }
            #expect(before.count == 2)
            server.clock.advance(minutes: 1)
            let transactionTime = server.clock.now()
            server.clock.advance(minutes: 1)
            let changed = try #require(before.first)
            let changedID = try #require(changed["id"]?.stringValue)
            try await server.store.write { db in
                try db.put(FHIRService.stamp(changed, type: .observation, id: changedID, version: 2, at: server.clock.now()))
                let late = server.weight(99, patientID: setup.patients[0])
                try db.put(FHIRService.stamp(late, type: .observation, id: "made-after", version: 1, at: server.clock.now()))
            }
            let job = try await storedJob(server, setup, status: .accepted, at: transactionTime)
            await server.running.exportWorker.wake()
            let answer = try await manifest(server, "/bulk/\(job.id)", token: setup.token)
            #expect(answer.status == 200, "\(answer.text)")
            let exported = try await download(server, try #require(answer.json), token: setup.token)["Observation"] ?? []
            #expect(Set(exported.compactMap { $0["id"]?.stringValue }) == Set(before.compactMap { $0["id"]?.stringValue }))
            #expect(exported.first { $0["id"]?.stringValue == changedID }?["meta"]?["versionId"]?.stringValue == "1")
        }
    }
}
