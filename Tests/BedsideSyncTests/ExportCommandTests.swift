import BedsideCore
import BedsideServerKit
import BedsideTestSupport
import Foundation
import Testing

/// `bedside export` with the real binary: the patient's own data to a file only they can read, written
/// only after the password was right, never over an existing file.
@Suite("bedside export")
struct ExportCommandTests {
    @Test("CSV and FHIR exports of what this computer holds: a 0600 file, the documented header and rows, a collection Bundle; a wrong password writes nothing; an existing file is never overwritten")
    func exports() async throws {
        let server = try await LoopbackServer()
        _ = try await server.addPatient(KillDuringSyncTests.email, name: "Kim Export")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)")
        let device = KillDuringSyncTests.Device(root: root, server: server, url: server.url, timeZone: "Europe/Amsterdam")
        defer { try? FileManager.default.removeItem(at: root) }
        do {
            try await device.login()
            #expect(try await device.run(["measure", "add", "blood-pressure", "135/85", "--at", "2026-11-20 08:15"]) == 0)
            #expect(try await device.run(["measure", "add", "weight", "82.4", "--at", "2026-11-21 07:30", "--note", "=cmd, after \"breakfast\""]) == 0)

            let csvPath = root.appendingPathComponent("mine.csv").path
            let csv = try await device.start(["export", "--format", "csv", "--output", csvPath]).finish()
            #expect(csv.status == 0, "\(csv.errors)")
            #expect(csv.errors.isEmpty, "nothing on stderr but errors: \(csv.errors)")
            let names = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.contains("mine") }
            #expect(names == ["mine.csv"], "no temporary file is left beside the export: \(names)")
            let mode = try FileManager.default.attributesOfItem(atPath: csvPath)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let text = try String(contentsOfFile: csvPath, encoding: .utf8)
            let lines = text.components(separatedBy: "\r\n")
            #expect(lines.first == "time,kind,code,value,unit,value2,unit2,note,state")
            #expect(lines.count == 4 && lines.last == "", "\(text)")
            #expect(lines[1] == "2026-11-20T08:15:00+01:00,blood-pressure,85354-9,135,mm[Hg],85,mm[Hg],,pending", "\(lines[1])")
            #expect(lines[2] == "2026-11-21T07:30:00+01:00,weight,29463-7,82.4,kg,,,\"'=cmd, after \"\"breakfast\"\"\",pending", "\(lines[2])")

            let fhirPath = root.appendingPathComponent("mine.json").path
            let fhir = try await device.start(["export", "--format", "fhir", "--output", fhirPath]).finish()
            #expect(fhir.status == 0, "\(fhir.errors)")
            let bundle = try #require(JSONParser.parseOrNil(Array(try Data(contentsOf: URL(fileURLWithPath: fhirPath)))))
            #expect(bundle["resourceType"]?.stringValue == "Bundle" && bundle["type"]?.stringValue == "collection")
            let resources = (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }
            #expect(resources.map { $0["resourceType"]?.stringValue } == ["Observation", "Observation"])
            #expect(resources.last?["note"]?.arrayValue?.first?["text"]?.stringValue == "=cmd, after \"breakfast\"", "the note as typed")

            // An existing file: refused before the password is even asked, and left as it was.
            let again = try await device.start(["export", "--format", "csv", "--output", csvPath]).finish()
            #expect(again.status == 64 || again.status == 2, "\(again.status)")
            #expect(try String(contentsOfFile: csvPath, encoding: .utf8) == text)

            // A wrong password: exit 3 and no file.
            let wrongPath = root.appendingPathComponent("wrong.csv").path
            let process = device.process(["export", "--format", "csv", "--output", wrongPath, "--password-stdin"])
            let stdin = Pipe()
            process.standardInput = stdin
            try ProcessLaunch.run(process)
            stdin.fileHandleForWriting.send("not-the-password\n")
            try stdin.fileHandleForWriting.close()
            await offPool { process.waitUntilExit() }
            #expect(process.terminationStatus == 3)
            #expect(!FileManager.default.fileExists(atPath: wrongPath))
        } catch {
            Issue.record("\(error)")
        }
        await server.stop()
    }

    /// A real server with a patient, and a device of theirs logged in (through a fault proxy when asked):
    /// what each test below starts from. A failure is recorded; the server stops either way.
    static func withPatient(
        viaProxy: Bool = false, timeZone: String? = nil,
        _ body: (LoopbackServer, KillDuringSyncTests.Device, URL, String, FaultProxy?) async throws -> Void
    ) async throws {
        let server = try await LoopbackServer()
        let account = try await server.addPatient(KillDuringSyncTests.email, name: "Kim Export")
        let patientID = try #require(account.patientID)
        let proxy = viaProxy ? try FaultProxy(upstreamPort: server.running.port) : nil
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)")
        let url = proxy.map { "https://127.0.0.1:\($0.port)" } ?? server.url
        let device = KillDuringSyncTests.Device(root: root, server: server, url: url, timeZone: timeZone)
        do {
            try await device.login()
            try await body(server, device, root, patientID, proxy)
        } catch {
            Issue.record("\(error)")
        }
        proxy?.stop()
        try? FileManager.default.removeItem(at: root)
        await server.stop()
    }

    /// A pseudo-terminal: the side a program writes to, and the side that reads what it wrote.
    /// (posix_openpt and friends are not in Swift's Glibc module: they are looked up in libc by name.)
    static func pseudoTerminal() throws -> (reader: Int32, terminal: Int32) {
        typealias Call = @convention(c) (Int32) -> Int32
        typealias Name = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?
        let libc = dlopen(nil, RTLD_NOW)
        guard let openpt = dlsym(libc, "posix_openpt"), let grant = dlsym(libc, "grantpt"), let unlock = dlsym(libc, "unlockpt"),
            let ptsname = dlsym(libc, "ptsname")
        else { throw TestFailure("no pty functions") }
        let reader = unsafeBitCast(openpt, to: Call.self)(O_RDWR | O_NOCTTY)
        guard reader >= 0, unsafeBitCast(grant, to: Call.self)(reader) == 0, unsafeBitCast(unlock, to: Call.self)(reader) == 0,
            let name = unsafeBitCast(ptsname, to: Name.self)(reader)
        else { throw TestFailure("no pty") }
        let terminal = open(name, O_RDWR | O_NOCTTY)
        guard terminal >= 0 else { throw TestFailure("no pty") }
        return (reader, terminal)
    }

    /// Everything written to the terminal side, once the program has ended and let go of it.
    static func drain(_ reader: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(reader, &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk.prefix(count)
        }
        close(reader)
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("health data never reaches a terminal raw: without --output to a terminal it refuses (exit 2) before the password; to a pipe closed early it says so (exit 1) instead of dying of SIGPIPE")
    func standardOutput() async throws {
        try await Self.withPatient { server, device, root, patientID, _ in
            #expect(try await device.run(["measure", "add", "weight", "82.4"]) == 0)

            let pty = try Self.pseudoTerminal()
            let process = device.process(["export", "--format", "csv", "--password-stdin"])
            let errors = Pipe(), stdin = Pipe()
            process.standardOutput = FileHandle(fileDescriptor: pty.terminal, closeOnDealloc: false)
            process.standardError = errors
            process.standardInput = stdin
            try ProcessLaunch.run(process)
            try stdin.fileHandleForWriting.close()
            await offPool { process.waitUntilExit() }
            close(pty.terminal)
            let screen = Self.drain(pty.reader)
            let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 2, "\(said)")
            #expect(said.contains("would print your health data"), "\(said)")
            #expect(!screen.contains("82.4"), "nothing of the data on the terminal: \(screen)")

            // A reader that went away: the writer is told (EPIPE), not killed silently by SIGPIPE.
            let closed = device.process(["export", "--format", "fhir", "--password-stdin"])
            // SIGPIPE as a shell gives it (the test runner may ignore it, and children inherit that).
            closed.arguments = ["--default-signal=PIPE", KillDuringSyncTests.bedside] + (closed.arguments ?? [])
            closed.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            let output = Pipe(), complaints = Pipe(), input = Pipe()
            closed.standardOutput = output
            closed.standardError = complaints
            closed.standardInput = input
            try ProcessLaunch.run(closed)
            try output.fileHandleForReading.close()
            input.fileHandleForWriting.send(LoopbackServer.password + "\n")
            try input.fileHandleForWriting.close()
            await offPool { closed.waitUntilExit() }
            let complaint = String(decoding: complaints.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(closed.terminationReason == .exit && closed.terminationStatus == 1, "\(closed.terminationReason) \(closed.terminationStatus) \(complaint)")
            #expect(complaint.contains("Standard output was closed"), "\(complaint)")
        }
    }

    /// Readings only the server holds (another device's, seeded straight into its store): the first 1,500
    /// changed in one millisecond, more than a page, so the export must follow the server's next links
    /// there; the rest a millisecond apart. And one questionnaire response.
    static func seedServer(_ server: LoopbackServer, patientID: String, count: Int) throws {
        let base: Int64 = 1_790_000_000_000
        try server.sqliteStore.writeNow { db in
            for index in 0..<count {
                let observation = ObservationBuilder.observation(
                    kind: .heartRate, values: [.init(part: .heartRate, literal: String(50 + index % 50))],
                    effective: FHIRDateTime.format(epochMilliseconds: base + Int64(index) * 60_000, utcOffsetSeconds: 3600), patientID: patientID,
                    clientID: nil)
                let stamp = index < 1500 ? base : base + Int64(index)
                try db.put(FHIRService.stamp(observation, type: .observation, id: "seed-\(index)", version: 1, at: stamp))
            }
            let response: JSONValue = [
                "resourceType": "QuestionnaireResponse", "status": "completed", "subject": ["reference": .string("Patient/\(patientID)")],
                "authored": "2026-11-20T08:00:00+01:00",
            ]
            try db.put(FHIRService.stamp(response, type: .questionnaireResponse, id: "seed-response", version: 1, at: base + 1))
        }
    }

    @Test("--from-server: what only the server holds comes down (and not without it), every reading once, as CSV and as a FHIR Bundle with the server's addresses; silent on stderr when it is not a terminal")
    func fromServer() async throws {
        try await Self.withPatient(timeZone: "Europe/Amsterdam") { server, device, root, patientID, _ in
            #expect(try await device.run(["measure", "add", "weight", "82.4", "--at", "2026-11-21 07:30"]) == 0)
            #expect(try await device.run(["sync"]) == 0)
            try Self.seedServer(server, patientID: patientID, count: 2500)

            let localPath = root.appendingPathComponent("local.csv").path
            let local = try await device.start(["export", "--format", "csv", "--output", localPath]).finish()
            #expect(local.status == 0, "\(local.errors)")
            #expect(try String(contentsOfFile: localPath, encoding: .utf8).components(separatedBy: "\r\n").count == 3, "header and the one weight only")

            let csvPath = root.appendingPathComponent("all.csv").path
            let csv = try await device.start(["export", "--format", "csv", "--output", csvPath, "--from-server"]).finish()
            #expect(csv.status == 0, "\(csv.errors)")
            #expect(csv.errors.isEmpty, "no progress when stderr is not a terminal: \(csv.errors)")
            let rows = try String(contentsOfFile: csvPath, encoding: .utf8).components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }
            #expect(rows.count == 2501, "2,500 heart rates and the weight, each once: \(rows.count)")
            #expect(rows.filter { $0.contains(",heart-rate,8867-4,") }.count == 2500)
            #expect(rows.contains { $0.hasPrefix("2026-11-21T07:30:00+01:00,weight,29463-7,82.4,kg,") })
            #expect(rows.first?.hasPrefix("2026-09-21T") == true, "oldest first: \(rows.first ?? "")")
            #expect(try FileManager.default.attributesOfItem(atPath: csvPath)[.posixPermissions] as? Int == 0o600)
            #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent(".all.csv.bedside-export").path), "the state went")

            let fhirPath = root.appendingPathComponent("all.json").path
            let fhir = try await device.start(["export", "--format", "fhir", "--output", fhirPath, "--from-server"]).finish()
            #expect(fhir.status == 0, "\(fhir.errors)")
            let bundle = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: fhirPath))))
            let entries = bundle["entry"]?.arrayValue ?? []
            #expect(entries.count == 2502, "2,501 Observations and the response: \(entries.count)")
            #expect(Set(entries.compactMap { $0["resource"]?["id"]?.stringValue }).count == 2502, "each once")
            #expect(entries.allSatisfy { ($0["fullUrl"]?.stringValue ?? "").hasPrefix(server.url + "/fhir/") })
            #expect(entries.last?["resource"]?["resourceType"]?.stringValue == "QuestionnaireResponse")
        }
    }

    @Test("--from-server resumes: cut off mid-way (the connection dropped), the same command again goes on from where it stopped and ends with every resource once; offline it says so (exit 4) and makes no file")
    func resumes() async throws {
        try await Self.withPatient(viaProxy: true) { server, device, root, patientID, proxy in
            guard let proxy else { throw TestFailure("no proxy") }
            try Self.seedServer(server, patientID: patientID, count: 5000)

            // The whole export once, for how many bytes it takes.
            let fullPath = root.appendingPathComponent("full.json").path
            let before = proxy.counters.bytesToClient
            let full = try await device.start(["export", "--format", "fhir", "--output", fullPath, "--from-server"]).finish()
            #expect(full.status == 0, "\(full.errors)")
            let fullBytes = proxy.counters.bytesToClient - before

            // Offline: a sentence, exit 4, no file and no state.
            proxy.fault = .down
            proxy.closeConnections()
            let offlinePath = root.appendingPathComponent("offline.json").path
            let offline = try await device.start(["export", "--format", "fhir", "--output", offlinePath, "--from-server"]).finish()
            #expect(offline.status == 4, "\(offline.status) \(offline.errors)")
            #expect(offline.errors.contains("stopped"), "\(offline.errors)")
            #expect(!FileManager.default.fileExists(atPath: offlinePath))
            #expect(!FileManager.default.fileExists(atPath: ServerExportStatePath.of(offlinePath)))

            // Cut off after about two fifths of it.
            proxy.fault = .truncateResponse(afterBytes: fullBytes * 2 / 5)
            let path = root.appendingPathComponent("mine.json").path
            let cut = try await device.start(["export", "--format", "fhir", "--output", path, "--from-server"]).finish()
            #expect(cut.status != 0, "the cut was noticed")
            #expect(cut.errors.contains("run the same command again"), "\(cut.errors)")
            #expect(!FileManager.default.fileExists(atPath: path), "no file under the name until it is complete")
            let statePath = ServerExportStatePath.of(path)
            let kept = try String(contentsOfFile: statePath, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("R\t") }.count
            #expect(kept >= 1000, "at least a page was kept: \(kept)")
            #expect(try FileManager.default.attributesOfItem(atPath: statePath)[.posixPermissions] as? Int == 0o600)

            proxy.fault = .none
            let resumedFrom = proxy.counters.bytesToClient
            let resumed = try await device.start(["export", "--format", "fhir", "--output", path, "--from-server"]).finish()
            #expect(resumed.status == 0, "\(resumed.errors)")
            let resumedBytes = proxy.counters.bytesToClient - resumedFrom
            #expect(resumedBytes < fullBytes - kept * 200, "went on, did not start over: \(resumedBytes) of \(fullBytes) bytes")
            let bundle = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            let ids = (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"]?["id"]?.stringValue }
            #expect(ids.count == 5001 && Set(ids).count == 5001, "every resource once: \(ids.count)")
            #expect(!FileManager.default.fileExists(atPath: statePath), "the state went once the export was in place")
        }
    }

    @Test("--from-server on a terminal shows its progress on stderr (Fetched … of …)")
    func progressOnTerminal() async throws {
        try await Self.withPatient { server, device, root, patientID, _ in
            try Self.seedServer(server, patientID: patientID, count: 1200)
            let pty = try Self.pseudoTerminal()
            let path = root.appendingPathComponent("mine.csv").path
            let process = device.process(["export", "--format", "csv", "--output", path, "--from-server", "--password-stdin"])
            let stdin = Pipe()
            process.standardInput = stdin
            process.standardError = FileHandle(fileDescriptor: pty.terminal, closeOnDealloc: false)
            try ProcessLaunch.run(process)
            stdin.fileHandleForWriting.send(LoopbackServer.password + "\n")
            try stdin.fileHandleForWriting.close()
            await offPool { process.waitUntilExit() }
            close(pty.terminal)
            let screen = Self.drain(pty.reader)
            #expect(process.terminationStatus == 0, "\(screen)")
            #expect(screen.contains("Fetched 1,201 of 1,201"), "\(screen)")
        }
    }
}

/// Where `bedside export --from-server --output F` keeps its state (as the command names it).
enum ServerExportStatePath {
    static func of(_ output: String) -> String {
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).bedside-export").path
    }
}
