import BedsideCore
import BedsideServerKit
import BedsideTestSupport
import Foundation
import GRDB
import Testing

@testable import BedsideSync

/// The real `bedside` binary, killed with SIGKILL at every step of a sync, behind a fault-injecting TCP
/// proxy in front of the real server. After each kill a plain `bedside sync` must leave the server and
/// the device holding the same measurements, none twice, with an intact database.
@Suite("kill -9 during sync", .serialized)
struct KillDuringSyncTests {
    static let email = "kim@example.org"

    /// The built `bedside` executable, next to the test bundle.
    static var bedside: String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while !directory.path.isEmpty, directory.path != "/" {
            let candidate = directory.appendingPathComponent("bedside")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            directory = directory.deletingLastPathComponent()
        }
        return ".build/debug/bedside"
    }

    /// One device: a data directory, driven only through the `bedside` command line.
    struct Device: Sendable {
        let root: URL
        let server: LoopbackServer
        let url: String
        /// How commands are told to trust the server; nil: `--ca-file` with the server's CA.
        var trustOptions: [String]? = nil
        /// `TZ` for the commands; nil: the environment has none (UTC).
        var timeZone: String? = nil

        var dataDirectory: String { root.appendingPathComponent("default").path }

        func process(_ arguments: [String]) -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: KillDuringSyncTests.bedside)
            process.arguments = arguments + ["--data-dir", dataDirectory, "--server", url, "--lang", "en"] + (trustOptions ?? ["--ca-file", server.caFile])
            process.environment = [
                "LANG": "C.UTF-8", "BEDSIDE_TEST_KDF_LOG_N": "10", "HOME": root.path,
                "XDG_CONFIG_HOME": root.appendingPathComponent("config").path, "PATH": "/usr/bin:/bin",
            ].merging(timeZone.map { ["TZ": $0] } ?? [:]) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            return process
        }

        /// A running command that was given the password on stdin, with its output and errors to read.
        struct Running: @unchecked Sendable {
            let process: Process
            let output: Pipe
            let errors: Pipe

            /// Waits for the end; the exit status, what it printed and what it complained.
            func finish() async -> (status: Int32, output: Data, errors: String) {
                let running = self
                return await offPool { running.finishBlocking() }
            }

            /// `finish` for code already on a thread of its own.
            func finishBlocking() -> (status: Int32, output: Data, errors: String) {
                let printed = output.fileHandleForReading.readDataToEndOfFile()
                let complained = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                return (process.terminationStatus, printed, complained)
            }
        }

        /// Starts a command with `--password-stdin` and the password on stdin.
        func start(_ arguments: [String]) throws -> Running {
            let process = process(arguments + ["--password-stdin"])
            let stdin = Pipe(), output = Pipe(), errors = Pipe()
            process.standardInput = stdin
            process.standardOutput = output
            process.standardError = errors
            try ProcessLaunch.run(process)
            stdin.fileHandleForWriting.send(LoopbackServer.password + "\n")
            try stdin.fileHandleForWriting.close()
            return Running(process: process, output: output, errors: errors)
        }

        /// Runs a command with nothing on stdin (no password) to the end, off the pool; its status and errors.
        func runWithoutInput(_ arguments: [String]) async throws -> (status: Int32, errors: String) {
            let process = process(arguments)
            let output = Pipe(), errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            process.standardInput = FileHandle.nullDevice
            try ProcessLaunch.run(process)
            let finished = await Running(process: process, output: output, errors: errors).finish()
            return (finished.status, finished.errors)
        }

        /// Runs to the end; the exit status.
        @discardableResult
        func run(_ arguments: [String]) async throws -> Int32 { try await start(arguments).finish().status }

        /// The password, then (once it is mailed) the code, as a person would type them.
        func login() async throws {
            let device = self
            try await offPool { try device.loginBlocking() }
        }

        private func loginBlocking() throws {
            let process = process(["login", "--user", KillDuringSyncTests.email, "--password-stdin"])
            let stdin = Pipe()
            process.standardInput = stdin
            let before = server.latestCode(for: KillDuringSyncTests.email)
            try ProcessLaunch.run(process)
            stdin.fileHandleForWriting.send(LoopbackServer.password + "\n")
            var code: String?
            // Generous: under a full parallel test run on 2 cores the password check alone has taken seconds.
            let deadline = Date().addingTimeInterval(90)
            while Date() < deadline {
                if let latest = server.latestCode(for: KillDuringSyncTests.email), latest != before {
                    code = latest
                    break
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            stdin.fileHandleForWriting.send((code ?? "000000") + "\n")
            try stdin.fileHandleForWriting.close()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw TestFailure("login exited \(process.terminationStatus)") }
        }

        func addWeights(_ count: Int, tag: Int) async throws {
            for index in 0..<count {
                let value = "7\(tag % 10).\(index % 10)"
                let status = try await run(["measure", "add", "weight", value, "--at", "2026-11-20 0\(index % 10):1\(tag % 10)"])
                guard status == 0 else { throw TestFailure("measure add exited \(status)") }
            }
        }

        /// `bedside status --json`.
        func status() async throws -> JSONValue {
            try JSONParser.parse(Array(try await start(["status", "--json"]).finish().output))
        }

        /// SQLite's own check of the device's database file (no key needed: only the structure is checked).
        func integrity() throws -> String {
            var configuration = Configuration()
            configuration.readonly = true
            let queue = try DatabaseQueue(path: dataDirectory + "/bedside.sqlite", configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
        }
    }

    static func serverCount(_ server: LoopbackServer) throws -> Int {
        try server.sqliteStore.readNow { db in try db.count(type: "Observation") }
    }

    /// Waits until `condition` holds (polling), up to `seconds`.
    static func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return try condition()
    }

    func kill(_ running: Device.Running) {
        Foundation.kill(running.process.processIdentifier, SIGKILL)
        running.process.waitUntilExit()
    }

    /// After a kill: sync again on a clean network, and compare both sides.
    func recoverAndCompare(_ device: Device, proxy: FaultProxy, step: String) async throws {
        proxy.fault = .none
        proxy.closeConnections()
        let status = try await device.run(["sync"])
        #expect(status == 0, "\(step): sync after the kill exited \(status)")
        let local = try await device.status()
        let onServer = try Self.serverCount(device.server)
        #expect(local["measurements"]?.intValue == onServer, "\(step): device \(local["measurements"]?.intValue ?? -1), server \(onServer)")
        #expect(local["unsent"]?.intValue == 0, "\(step): \(local)")
        #expect(try device.integrity() == "ok", "\(step)")
        // No measurement twice: every client identifier on the server is distinct.
        let checker = try await SyncClient(server: device.server, email: Self.email)
        let identifiers = try await checker.serverIdentifiers()
        checker.close()
        #expect(identifiers.count == onServer && Set(identifiers).count == onServer, "\(step): duplicates on the server")
    }

    @Test("killed before anything reached the server, mid-request, after the server's commit, and mid-pull: no loss, no duplicate")
    func killAtEveryStep() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient(Self.email)
        let proxy = try FaultProxy(upstreamPort: server.running.port)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kill-sync-\(UUID().uuidString)")
        defer {
            proxy.stop()
            try? FileManager.default.removeItem(at: root)
        }
        let device = Device(root: root, server: server, url: "https://127.0.0.1:\(proxy.port)")
        try await device.login()

        // 1. Saved locally, then killed while the connection goes nowhere (nothing reached the server).
        try await device.addWeights(3, tag: 1)
        proxy.fault = .dropAll
        let accepted = proxy.connectionsAccepted
        var sync = try device.start(["sync"])
        // Its connection (not the login's) has arrived: by then it holds the data directory.
        #expect(await proxy.waitUntil(timeout: .seconds(10)) { $0.connectionsAccepted > accepted })
        // Meanwhile a second bedside on the same data directory is turned away, clearly, and changes nothing.
        let (second, _, message) = try await device.start(["measure", "add", "weight", "70.5"]).finish()
        #expect(second == 1)
        #expect(message.contains("Another Bedside (process \(sync.process.processIdentifier)) is using this data directory"), "\(message)")
        kill(sync)
        #expect(try Self.serverCount(server) == 0)
        try await recoverAndCompare(device, proxy: proxy, step: "before sending")

        // 2. Killed in the middle of sending the Bundle: the server never gets a whole request.
        try await device.addWeights(4, tag: 2)
        let before = try Self.serverCount(server)
        proxy.closeConnections()
        proxy.fault = .stallRequest(afterBytes: 3_000)
        sync = try device.start(["sync"])
        #expect(await proxy.waitUntil(timeout: .seconds(10)) { $0.connectionsStalled > 0 })
        kill(sync)
        #expect(try Self.serverCount(server) == before, "half a request stores nothing")
        try await recoverAndCompare(device, proxy: proxy, step: "mid-request")

        // 3. Killed after the server committed, before its answer arrived: the replay must not duplicate.
        try await device.addWeights(4, tag: 3)
        let committedBefore = try Self.serverCount(server)
        proxy.closeConnections()
        proxy.fault = .delay(400)
        sync = try device.start(["sync"])
        let committed = try await offPool { try Self.eventually(30) { try Self.serverCount(server) == committedBefore + 4 } }
        kill(sync)
        #expect(committed, "the server stored the batch")
        try await recoverAndCompare(device, proxy: proxy, step: "after the server's commit")

        // 4. Killed while pulling a nurse's (another device's) many entries.
        let other = try await SyncClient(server: server, email: Self.email)
        try other.addWeights(2_500, endingBefore: 86_400_000)
        #expect(await other.push().sent == 2_500)
        other.close()
        proxy.closeConnections()
        proxy.fault = .delay(20)
        sync = try device.start(["sync"])
        #expect(await proxy.waitUntil(timeout: .seconds(30)) { $0.bytesToClient > 300_000 })
        kill(sync)
        try await recoverAndCompare(device, proxy: proxy, step: "mid-pull")

        await server.stop()
    }
}
