import BedsideTestSupport
import Foundation
import Testing

/// `bedside headless` as a tester's harness runs it: the kiosk with `--kiosk`, the mailed code handed
/// over on standard input when the screen asks for it (`type-stdin`), snapshots that must exist.
@Suite("bedside headless from the command line")
struct HeadlessCommandTests {
    struct Finished {
        var status: Int32
        var output: String
    }

    /// Runs `bedside headless SCRIPT arguments…`; `feed` is called with the stdin pipe once started.
    func headless(_ script: String, _ arguments: [String], environment: [String: String] = [:], feed: (FileHandle) throws -> Void = { try $0.close() }) throws -> Finished {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("headless-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("script.bedside")
        try script.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KillDuringSyncTests.bedside)
        process.arguments = ["headless", file.path, "--data-dir", root.appendingPathComponent("data").path, "--lang", "en"] + arguments
        process.environment = ["LANG": "C.UTF-8", "HOME": root.path, "XDG_CONFIG_HOME": root.path, "BEDSIDE_TEST_KDF_LOG_N": "10"]
            .merging(environment) { $1 }
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try ProcessLaunch.run(process)
        try feed(input.fileHandleForWriting)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Finished(status: process.terminationStatus, output: text)
    }

    @Test("--kiosk scripts the kiosk; type-stdin types the code the harness hands over once it is mailed")
    func kioskWithCodeFromStandardInput() async throws {
        let server = try await LoopbackServer()
        _ = try await server.administration.addUser(email: "nurse@example.org", role: .clinician, password: LoopbackServer.password, name: "Nurse Test")
        let script = """
            type "nurse@example.org"
            press Tab
            type "${PASSWORD}"
            press Enter
            wait-for "code" 5s
            type-stdin
            press Enter
            wait-for "Alerts (0)" 10s
            expect "No alerts here."
            """
        let finished = try await offPool {
            try headless(script, ["--kiosk", "--server", server.url, "--ca-file", server.caFile], environment: ["PASSWORD": LoopbackServer.password]) { stdin in
                var code: String?
                for _ in 0..<400 where code == nil {
                    code = server.latestCode(for: "nurse@example.org")
                    if code == nil { Thread.sleep(forTimeInterval: 0.05) }
                }
                stdin.send((code ?? "") + "\n")
                try stdin.close()
            }
        }
        #expect(finished.status == 0, "\(finished.output)")
        #expect(finished.output.contains("9 passed, 0 failed"), "\(finished.output)")
        await server.stop()
    }

    @Test("type-stdin at the end of the input fails its step, clearly")
    func standardInputExhausted() async throws {
        let finished = try await offPool { try headless("type-stdin\n", []) }
        #expect(finished.status == 1)
        #expect(finished.output.contains("standard input has no more lines"), "\(finished.output)")
    }

    @Test("a snapshot that does not exist fails unless --record-snapshots, which writes it; then it must match")
    func missingSnapshotFails() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("snapshots-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = "size 80x24\nsnapshot first-screen\n"
        let missing = try await offPool { try headless(script, ["--snapshots", directory.path]) }
        #expect(missing.status == 1)
        #expect(missing.output.contains("there is no snapshot"), "\(missing.output)")
        let recorded = try await offPool { try headless(script, ["--snapshots", directory.path, "--record-snapshots"]) }
        #expect(recorded.status == 0, "\(recorded.output)")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("first-screen.txt").path))
        let matched = try await offPool { try headless(script, ["--snapshots", directory.path]) }
        #expect(matched.status == 0, "\(matched.output)")
        let changed = try await offPool { try headless("size 100x30\nsnapshot first-screen\n", ["--snapshots", directory.path]) }
        #expect(changed.status == 1)
    }
}
