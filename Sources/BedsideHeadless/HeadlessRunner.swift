import BedsideApp
import BedsideCore
import BedsideUI
import Foundation
import Synchronization

/// Runs scripts on the app's one event loop (`EventLoop`), with a virtual screen and clock.
///
/// Each key, resize or tick is handed to the loop alone, and the loop settles before the next step:
/// every effect it set off, and theirs, runs to the end. So a script is deterministic, and what
/// `expect` sees is exactly what the loop drew for the patient once the work was done.
public final class HeadlessRunner {
    public struct Result: Sendable, Equatable {
        public var passed: Int
        public var failed: Int
    }

    let loop: EventLoop
    let terminal: VirtualTerminal
    let clock: ManualClock
    /// `${NAME}` in quoted text is replaced by this, read when the step runs.
    let variables: (String) -> String?
    let snapshotDirectory: URL?
    let output: (String) -> Void
    /// Cuts (false) or restores (true) the network to the server; nil where nothing can (then `network` fails).
    let network: (@Sendable (Bool) async -> Void)?
    /// The next line for `type-stdin`, read when the step runs; nil at the end of the input.
    let readLine: () -> String?
    /// Whether a missing snapshot is written (recording) instead of failing the step.
    let recordSnapshots: Bool
    private var started = false

    public init(
        state: AppState, core: ClientCore, clock: ManualClock, variables: @escaping (String) -> String? = { _ in nil },
        snapshotDirectory: URL? = nil, output: @escaping (String) -> Void = { print($0) },
        network: (@Sendable (Bool) async -> Void)? = nil, readLine: @escaping () -> String? = { Swift.readLine() },
        recordSnapshots: Bool = false
    ) {
        self.network = network
        self.readLine = readLine
        self.recordSnapshots = recordSnapshots
        self.clock = clock
        self.variables = variables
        self.snapshotDirectory = snapshotDirectory
        self.output = output
        terminal = VirtualTerminal(width: state.width, height: state.height)
        loop = EventLoop(state: state, core: core, clock: clock, device: terminal)
    }

    public var state: AppState { loop.state }

    /// The patient quit (q, Ctrl-C).
    public var quit: Bool { loop.state.quitting }

    /// The screen now, as the loop drew it.
    public var frame: Frame { terminal.screen }

    /// The loop's start (the screen's size), once, before the first step.
    private func startIfNeeded() async {
        guard !started else { return }
        started = true
        loop.start()
        await loop.settle()
    }

    /// Hands the loop one event and lets it settle.
    public func send(_ event: TerminalEvent) async {
        await startIfNeeded()
        terminal.send(event)
        await loop.settle()
    }

    /// A key, as the patient presses it.
    public func press(_ key: Key) async {
        await send(.key(key))
    }

    /// Lets virtual time pass; the loop ticks (once) and settles.
    public func advance(milliseconds: Int64) async {
        await startIfNeeded()
        clock.advance(milliseconds: milliseconds)
        await loop.settle()
    }

    /// Applies an action as if an effect had brought it, and lets the loop settle.
    public func dispatch(_ action: Action) async {
        await startIfNeeded()
        loop.send(action)
        await loop.settle()
    }

    func expand(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                rest = rest[start.lowerBound...]
                break
            }
            let name = String(rest[start.upperBound..<end])
            result += variables(name) ?? ""
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }

    /// Runs every step; prints one line per failure and a final summary line.
    @discardableResult
    public func run(_ script: Script) async -> Result {
        var result = Result(passed: 0, failed: 0)
        for step in script.steps {
            if let failure = await run(step) {
                result.failed += 1
                output("\(script.name):\(step.line): \(step.source): \(failure)")
            } else {
                result.passed += 1
            }
        }
        output("\(result.passed) passed, \(result.failed) failed")
        return result
    }

    /// Runs one step; returns why it failed, or nil.
    func run(_ step: Script.Step) async -> String? {
        await startIfNeeded()
        switch step.command {
        case .size(let width, let height), .resize(let width, let height):
            await send(.resize(width: width, height: height))
        case .type(let text):
            for character in expand(text) { await press(.character(character)) }
        case .typeStandardInput:
            guard let line = readLine() else { return "standard input has no more lines to type" }
            for character in line { await press(.character(character)) }
        case .press(let keys):
            for key in keys { await press(key) }
        case .expect(let text):
            let wanted = expand(text)
            if !frame.text.contains(wanted) { return "\"\(wanted)\" is not on the screen" + screenDump() }
        case .expectNot(let text):
            let unwanted = expand(text)
            if frame.text.contains(unwanted) { return "\"\(unwanted)\" is on the screen" + screenDump() }
        case .expectLine(let row, let text):
            let wanted = expand(text)
            let lines = frame.lines
            guard lines.indices.contains(row) else { return "the screen has no line \(row)" }
            if !lines[row].contains(wanted) { return "line \(row) is \"\(lines[row])\", without \"\(wanted)\"" }
        case .waitFor(let text, let timeout):
            let wanted = expand(text)
            var waited: Int64 = 0
            while !frame.text.contains(wanted) {
                guard waited < timeout else { return "\"\(wanted)\" did not appear within \(timeout) ms" + screenDump() }
                // The loop ticks once a second of virtual time, as it does on a terminal.
                await advance(milliseconds: 100)
                waited += 100
            }
        case .tick(let milliseconds):
            await advance(milliseconds: milliseconds)
        case .sync:
            // As if the patient pressed s: the same path, run to the end.
            await dispatch(.syncRequested)
        case .network(let on):
            guard let network else { return "this runner cannot switch the network (the test suite runs scripts behind a proxy that can)" }
            await network(on)
        case .screen:
            output(frame.text)
        case .snapshot(let name):
            return snapshot(name)
        }
        return nil
    }

    private func screenDump() -> String {
        "\n--- screen ---\n" + frame.text + "\n--------------"
    }

    /// Compares the screen with `<dir>/NAME.txt`. A missing one fails, unless recording was asked for.
    func snapshot(_ name: String) -> String? {
        guard let directory = snapshotDirectory else { return "no snapshot directory (pass --snapshots DIR)" }
        let url = directory.appendingPathComponent("\(name).txt")
        let current = frame.text + "\n"
        guard let recorded = try? String(contentsOf: url, encoding: .utf8) else {
            guard recordSnapshots else { return "there is no snapshot \(url.path) (record it with --record-snapshots)" + screenDump() }
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try current.write(to: url, atomically: true, encoding: .utf8)
                output("recorded snapshot \(url.path)")
                return nil
            } catch {
                return "cannot record \(url.path): \(error.localizedDescription)"
            }
        }
        guard recorded == current else {
            let old = recorded.split(separator: "\n", omittingEmptySubsequences: false)
            let new = current.split(separator: "\n", omittingEmptySubsequences: false)
            let firstDifference = zip(old, new).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(old.count, new.count)
            return "the screen differs from \(url.path) at line \(firstDifference)" + screenDump()
        }
        return nil
    }
}

