import BedsideTestSupport
import Foundation
import Testing

/// The exit codes DESIGN.md and the README promise, from the real `bedside` binary.
@Suite("bedside exit codes")
struct ExitCodeTests {
    func status(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KillDuringSyncTests.bedside)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.environment = ["LANG": "C.UTF-8", "HOME": FileManager.default.temporaryDirectory.path]
        try ProcessLaunch.run(process)
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test("usage errors exit 2, help and version 0")
    func usage() throws {
        #expect(try status(["--no-such-option"]) == 2)
        #expect(try status(["questionnaire", "fill", "/no/such/form.json", "--answers", "/no/such/answers.json"]) == 2)
        #expect(try status(["--version"]) == 0)
        #expect(try status(["questionnaire", "--help"]) == 0)
    }
}
