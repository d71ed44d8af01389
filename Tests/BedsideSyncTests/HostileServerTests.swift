import BedsideCore
import BedsideServerKit
import BedsideTestSupport
import Foundation
import Testing

/// The real `bedside` binary against a hostile server it trusts (the fault proxy diverts its connections to a
/// `HostileServer` holding the real server's certificate). Each attack must end in a clean exit code, with the
/// process's peak memory bounded, nothing escaping to the terminal, and every unsent measurement still there.
@Suite("Hostile server: the bedside binary", .serialized)
struct HostileServerTests {
    static let email = KillDuringSyncTests.email
    /// The debug binary's own footprint is far below this; a body buffered past the 16 MiB cap goes far above.
    static let peakLimit = 200 << 20
    /// A run that gets this big is killed, so a regression cannot take the test machine down with it.
    static let killAbove = 600 << 20

    struct Measured {
        var status: Int32
        /// False when a signal ended it (a trap is SIGILL, whose number 4 would pass for "offline").
        var exited: Bool
        var peakBytes: Int
        var output: String
        var errors: String
        var killed: Bool
    }

    /// Runs a command with the password on stdin, sampling its peak resident size (VmHWM) from /proc.
    static func measured(_ device: KillDuringSyncTests.Device, _ arguments: [String]) throws -> Measured {
        let running = try device.start(arguments)
        let pid = running.process.processIdentifier
        var peak = 0
        var killed = false
        let deadline = Date().addingTimeInterval(120)
        while running.process.isRunning {
            if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) {
                for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") || line.hasPrefix("VmRSS:") {
                    let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
                    peak = max(peak, kilobytes * 1024)
                }
            }
            if (peak > killAbove || Date() > deadline) && !killed {
                kill(pid, SIGKILL)
                killed = true
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let (status, output, errors) = running.finishBlocking()
        return Measured(
            status: status, exited: running.process.terminationReason == .exit, peakBytes: peak, output: String(decoding: output, as: UTF8.self), errors: errors, killed: killed)
    }

    /// A logged-in device with three unsent weights, behind a proxy that now diverts to a hostile server answering with `respond`.
    func attack(
        _ arguments: [String], peakLimit: Int = HostileServerTests.peakLimit,
        respond: @escaping @Sendable (HostileServer.Request) -> HostileServer.Reply, check: (Measured, HostileServer) throws -> Void
    ) async throws {
        let server = try await LoopbackServer()
        try await server.addPatient(Self.email)
        let proxy = try FaultProxy(upstreamPort: server.running.port)
        let hostile = try HostileServer(impersonating: server, respond: respond)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
        let device = KillDuringSyncTests.Device(root: root, server: server, url: "https://127.0.0.1:\(proxy.port)")
        do {
            try await device.login()
            try await device.addWeights(3, tag: 1)
            proxy.fault = .divert(toPort: hostile.port)
            let run = try await offPool { try Self.measured(device, arguments) }
            // The figure measured, for the record (the abuse suite reports what it saw, not only pass or fail).
            print("hostile server, bedside \(arguments.joined(separator: " ")): exit \(run.status), peak RSS \(run.peakBytes >> 20) MiB")
            #expect(!run.killed, "killed at \(run.peakBytes >> 20) MiB")
            #expect(run.exited, "ended by signal \(run.status): \(run.errors)")
            #expect(run.peakBytes < peakLimit, "peak \(run.peakBytes >> 20) MiB")
            #expect(!run.errors.utf8.contains(0x1B) && !run.output.utf8.contains(0x1B), "an escape reached the terminal")
            try check(run, hostile)
            // Nothing the patient entered is lost: all three are still waiting, and reach the real server.
            proxy.fault = .none
            let status = try await device.status()
            #expect(status["unsent"]?.intValue == 3, "\(status)")
            #expect(try await device.run(["sync"]) == 0)
            #expect(try KillDuringSyncTests.serverCount(server) == 3)
        } catch {
            Issue.record("\(error)")
        }
        proxy.stop()
        hostile.stop()
        await server.stop()
        try? FileManager.default.removeItem(at: root)
    }

    @Test("an endless body: sync stops at the cap, exits 1 with a clear sentence, memory stays small")
    func endlessBody() async throws {
        try await attack(["sync"], respond: { _ in
            HostileServer.Reply(status: 200, headers: [("Content-Type", "application/fhir+json")], body: .endless(chunk: Array(repeating: 0x5B, count: 65_536)))
        }) { run, hostile in
            #expect(run.status == 1, "\(run.errors)")
            #expect(run.errors.contains("larger than 16 MiB"), "\(run.errors)")
            #expect(hostile.counters.bodyBytesSent < 64 << 20, "\(hostile.counters)")
        }
    }

    @Test("a gzip bomb: sync stops at the cap of inflated bytes, exits 1, memory stays small")
    func gzipBomb() async throws {
        let bomb = HostileServer.gzipOfZeros(inflatedBytes: 1 << 30)
        try await attack(["sync"], respond: { _ in
            HostileServer.Reply(status: 200, headers: [("Content-Type", "application/fhir+json"), ("Content-Encoding", "gzip")], body: .bytes(bomb))
        }) { run, _ in
            #expect(run.status == 1, "\(run.errors)")
            #expect(run.errors.contains("larger than 16 MiB"), "\(run.errors)")
        }
    }

    @Test("an answer under the cap made of 5 million empty objects: parsing stops at a million values, refused, exit 1")
    func wideAnswer() async throws {
        // Parsed whole, these 10 MB cost about 270 MiB (the tree is about 25 times the text for empty
        // objects); the client's parser stops at `maximumJSONValues`.
        let entries = Array(repeating: "{}", count: 5_000_000).joined(separator: ",")
        let body = #"{"resourceType":"Bundle","type":"transaction-response","entry":["# + entries + "]}"
        try await attack(["sync"], peakLimit: 160 << 20, respond: { _ in .json(200, body) }) { run, _ in
            #expect(run.status == 1, "\(run.errors)")
            #expect(run.peakBytes < 160 << 20, "peak \(run.peakBytes >> 20) MiB")
        }
    }

    @Test("a 1 MB header line: exits 1 with a clear sentence")
    func hugeHeader() async throws {
        let line = String(repeating: "x", count: 1 << 20)
        try await attack(["sync"], respond: { _ in .json(200, "{}", headers: [("X-Huge", line)]) }) { run, _ in
            #expect(run.status == 1, "\(run.errors)")
            #expect(run.errors.contains("headers"), "\(run.errors)")
        }
    }

    @Test("503 with Retry-After 2^63-1 and a Date in year 99999: no trap, no day-long sleep, exit 1")
    func absurdRetryAfter() async throws {
        try await attack(["sync", "--retries", "1"], respond: { _ in
            .json(503, #"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","diagnostics":"busy"}]}"#,
                headers: [("Retry-After", "9223372036854775807"), ("Date", "Fri, 31 Dec 99999 23:59:59 GMT")])
        }) { run, hostile in
            #expect(run.status == 1, "\(run.errors)")
            #expect(hostile.counters.requests == 1, "a wait of a day is not slept through in a command")
        }
    }

    @Test("escape sequences in an OperationOutcome's diagnostics are shown inert")
    func escapesInDiagnostics() async throws {
        let diagnostics = #"Refused \u001b]0;owned\u0007\u001b[2J\u001b[31mred\u009b1m \u202eevil"#
        try await attack(["sync", "--retries", "0"], respond: { _ in
            .json(503, #"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","diagnostics":"\#(diagnostics)"}]}"#)
        }) { run, _ in
            #expect(run.status == 1, "\(run.errors)")
            #expect(run.errors.contains("Refused ␛]0;owned␇␛[2J␛[31mred"), "\(run.errors)")
            #expect(!run.errors.unicodeScalars.contains { (0x80...0x9F).contains($0.value) || $0.value == 0x202E }, "\(run.errors)")
        }
    }
}

/// Server text on the command line: a patient's name with escape sequences, as the real server keeps it.
@Suite("Command line output is inert", .serialized)
struct CommandLineTextTests {
    @Test("login and status print a hostile name inert")
    func hostileName() async throws {
        let server = try await LoopbackServer()
        let name = "Ann\u{1B}]0;owned\u{07}\u{1B}[2J Evil"
        let account = try await server.addPatient(KillDuringSyncTests.email, name: name)
        _ = account
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("inert-\(UUID().uuidString)")
        let device = KillDuringSyncTests.Device(root: root, server: server, url: server.url)
        do {
            try await device.login()
            let run = try await device.start(["status"]).finish()
            let printed = String(decoding: run.output, as: UTF8.self)
            #expect(run.status == 0)
            #expect(printed.contains("Ann␛]0;owned␇␛[2J Evil"), "\(printed)")
            #expect(!printed.utf8.contains(0x1B) && !run.errors.utf8.contains(0x1B))
        } catch {
            Issue.record("\(error)")
        }
        await server.stop()
        try? FileManager.default.removeItem(at: root)
    }
}

/// `--data-dir` pointed at a directory Bedside did not make: nothing in it is changed or removed.
@Suite("Data directories Bedside did not make", .serialized)
struct ForeignDataDirectoryTests {
    @Test("logout --force and login refuse ~/Documents, exit 1 with a clear sentence, and touch nothing")
    func refuseDocuments() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient(KillDuringSyncTests.email)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("foreign-\(UUID().uuidString)")
        let device = KillDuringSyncTests.Device(root: root, server: server, url: server.url)
        let documents = URL(fileURLWithPath: device.dataDirectory)
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: documents, withIntermediateDirectories: true)
        let thesis = Data(String(repeating: "my thesis ", count: 1000).utf8)
        try thesis.write(to: documents.appendingPathComponent("thesis.docx"))
        try thesis.write(to: documents.appendingPathComponent("vault.key"))
        let before = try FileManager.default.contentsOfDirectory(atPath: documents.path).sorted()

        for arguments in [["logout", "--force"], ["logout"], ["login", "--user", KillDuringSyncTests.email]] {
            let (status, message) = try await device.runWithoutInput(arguments)
            #expect(status != 0, "\(arguments)")
            #expect(message.contains("was not made by Bedside"), "\(arguments): \(message)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: documents.path).sorted() == before, "\(arguments)")
            #expect(try Data(contentsOf: documents.appendingPathComponent("thesis.docx")) == thesis)
            #expect(try Data(contentsOf: documents.appendingPathComponent("vault.key")) == thesis)
        }
        await server.stop()
    }

    @Test("a data directory that is a link is refused by logout --force (exit 1, a clear sentence), and what it points to stays")
    func linkedDataDirectory() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient(KillDuringSyncTests.email)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("linked-dir-\(UUID().uuidString)")
        let real = KillDuringSyncTests.Device(root: root.appendingPathComponent("real"), server: server, url: server.url)
        defer { try? FileManager.default.removeItem(at: root) }
        try await real.login()
        let linked = KillDuringSyncTests.Device(root: root.appendingPathComponent("linked"), server: server, url: server.url)
        try FileManager.default.createDirectory(atPath: linked.root.path, withIntermediateDirectories: true)
        #expect(symlink(real.dataDirectory, linked.dataDirectory) == 0)
        let before = try FileManager.default.contentsOfDirectory(atPath: real.dataDirectory).sorted()
        let (status, message) = try await linked.runWithoutInput(["logout", "--force"])
        #expect(status == 1)
        #expect(message.contains("symbolic link"), "\(message)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: real.dataDirectory).sorted() == before)
        await server.stop()
    }

    @Test("logout --force of a real account removes a link in the data directory, never what it points to")
    func linkInside() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient(KillDuringSyncTests.email)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("linked-\(UUID().uuidString)")
        let device = KillDuringSyncTests.Device(root: root, server: server, url: server.url)
        defer { try? FileManager.default.removeItem(at: root) }
        try await device.login()
        // A link to a directory where Bedside's -shm file would be: following it would shred the folder.
        let folder = root.appendingPathComponent("precious")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let precious = folder.appendingPathComponent("precious.txt")
        try Data("precious".utf8).write(to: precious)
        let shm = device.dataDirectory + "/bedside.sqlite-shm"
        try? FileManager.default.removeItem(atPath: shm)
        #expect(symlink(folder.path, shm) == 0)
        #expect(try await device.runWithoutInput(["logout", "--force"]).status == 0)
        #expect(try String(contentsOf: precious, encoding: .utf8) == "precious")
        #expect(try FileManager.default.contentsOfDirectory(atPath: device.dataDirectory).isEmpty)
        await server.stop()
    }
}
