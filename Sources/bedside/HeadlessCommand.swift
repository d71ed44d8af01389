import ArgumentParser
import BedsideApp
import BedsideCore
import BedsideHeadless
import BedsideUI
import BedsideVault
import Foundation

struct HeadlessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "headless",
        abstract: "Run a script against the app with a virtual screen and clock (for testers).",
        discussion: """
            Commands, one per line (# starts a comment): size 80x24, type "text", type-stdin (types the next line of
            standard input, e.g. a mailed code a harness hands over when the screen asks), press Enter (Tab BackTab Esc
            Up Down Left Right PageUp PageDown Home End Backspace Delete F1..F12 Ctrl-A..Ctrl-Z Space),
            expect "text", expect-not "text", expect-line 3 "text", wait-for "text" 5s, tick 16m, resize 100x30,
            sync, screen, snapshot NAME (a missing snapshot fails unless --record-snapshots). ${NAME} in quoted text
            is replaced by the environment variable NAME. --kiosk runs the clinician kiosk instead of the patient app.
            Prints one line per failed step and "N passed, N failed"; exits 0 only if all passed.
            The script works on the real data directory and server of the other options.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The script file.", completion: .file(extensions: ["bedside"]))
    var script: String

    @Option(help: "Screen size, e.g. 80x24.")
    var size = "80x24"

    @Option(help: "Where snapshot NAME compares and records screens.", completion: .directory)
    var snapshots = "Tests/Snapshots"

    @Flag(help: "Write a snapshot that does not exist yet instead of failing the step.")
    var recordSnapshots = false

    @Flag(help: "Script the clinician kiosk (nothing is kept on disk) instead of the patient app.")
    var kiosk = false

    func run() async throws {
        ProcessHardening.apply()
        var configuration = try options.resolve()
        configuration.kiosk = kiosk
        let dimensions = size.split(separator: "x").compactMap { Int($0) }
        guard dimensions.count == 2, dimensions[0] >= 20, dimensions[1] >= 6 else { throw ValidationError("--size is WIDTHxHEIGHT, at least 20x6.") }
        guard let text = try? String(contentsOfFile: script, encoding: .utf8) else { throw ValidationError("Cannot read \(script).") }
        let parsed: Script
        do {
            parsed = try ScriptParser.parse(text, name: URL(fileURLWithPath: script).lastPathComponent)
        } catch {
            complain(error.description)
            throw ExitCode.validationFailure
        }
        let clock = ManualClock(epochMilliseconds: SystemClock().now())
        // The kiosk never opens the data directory, so it does not claim it.
        let core = kiosk ? ClientCore(configuration: configuration, clock: clock) : try await claimedCore(configuration, clock: clock)
        let state = configuration.initialState(
            width: dimensions[0], height: dimensions[1], now: clock.now(), zone: .current, idSeed: randomSeed())
        let environment = ProcessInfo.processInfo.environment
        let runner = HeadlessRunner(
            state: state, core: core, clock: clock, variables: { environment[$0] }, snapshotDirectory: URL(fileURLWithPath: snapshots),
            recordSnapshots: recordSnapshots)
        let result = await runner.run(parsed)
        await core.lock()
        if result.failed > 0 { throw Exit.failure }
    }
}
