import BedsideApp
import BedsideCore
import BedsideUI
import Foundation
import Synchronization

/// Drives the real state machine, views and effects with a virtual screen and clock.
///
/// Effects run to completion before the next step, so a script is deterministic: what `expect`
/// sees is exactly what the patient would see once the work is done.
public final class HeadlessRunner {
    public struct Result: Sendable, Equatable {
        public var passed: Int
        public var failed: Int
    }

    public private(set) var state: AppState
    let core: ClientCore
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
    public private(set) var quit = false

    public init(
        state: AppState, core: ClientCore, clock: ManualClock, variables: @escaping (String) -> String? = { _ in nil },
        snapshotDirectory: URL? = nil, output: @escaping (String) -> Void = { print($0) },
        network: (@Sendable (Bool) async -> Void)? = nil, readLine: @escaping () -> String? = { Swift.readLine() },
        recordSnapshots: Bool = false
    ) {
        self.network = network
        self.readLine = readLine
        self.recordSnapshots = recordSnapshots
        self.state = state
        self.core = core
        self.clock = clock
        self.variables = variables
        self.snapshotDirectory = snapshotDirectory
        self.output = output
    }

    /// The screen now.
    public var frame: Frame { render(state) }

    /// Applies an action and runs every effect it causes, and theirs, to the end.
    public func dispatch(_ action: Action) async {
        var queue = [action]
        while !queue.isEmpty {
            let next = queue.removeFirst()
            let effects = reduce(&state, next)
            for effect in effects {
                if effect == .quit { quit = true }
                let progress = ProgressLog()
                let results = await core.perform(effect) { action in progress.actions.withLock { $0.append(action) } }
                queue += progress.actions.withLock { $0 } + results
            }
        }
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
        switch step.command {
        case .size(let width, let height), .resize(let width, let height):
            await dispatch(.resize(width: width, height: height))
        case .type(let text):
            for character in expand(text) { await dispatch(.key(.character(character))) }
        case .typeStandardInput:
            guard let line = readLine() else { return "standard input has no more lines to type" }
            for character in line { await dispatch(.key(.character(character))) }
        case .press(let keys):
            for key in keys { await dispatch(.key(key)) }
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
                clock.advance(milliseconds: 100)
                waited += 100
                await dispatch(.tick(now: clock.now()))
            }
        case .tick(let milliseconds):
            clock.advance(milliseconds: milliseconds)
            await dispatch(.tick(now: clock.now()))
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

/// Progress reported while an effect runs, applied in order before its results.
private final class ProgressLog: Sendable {
    let actions = Mutex<[Action]>([])
}
