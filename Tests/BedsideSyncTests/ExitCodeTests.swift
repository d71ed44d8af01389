import BedsideTestSupport
import Foundation
import Testing

/// The exit codes DESIGN.md and the README promise, from the real `bedside` binary.
@Suite("bedside exit codes")
struct ExitCodeTests {
    func status(_ arguments: [String]) async throws -> Int32 {
        try await ChildProcess.run(
            KillDuringSyncTests.bedside, arguments, environment: ["LANG": "C.UTF-8", "HOME": FileManager.default.temporaryDirectory.path]
        ).status
    }

    @Test("usage errors exit 2, help and version 0")
    func usage() async throws {
        #expect(try await status(["--no-such-option"]) == 2)
        #expect(try await status(["questionnaire", "fill", "/no/such/form.json", "--answers", "/no/such/answers.json"]) == 2)
        #expect(try await status(["--version"]) == 0)
        #expect(try await status(["questionnaire", "--help"]) == 0)
    }
}
