import ArgumentParser
import BedsideApp
import BedsideCore
import BedsideSync
import BedsideUI
import Foundation

extension PatientDataExport.Format: ExpressibleByArgument {}

/// `bedside export`: the patient's own data, to take with them (GDPR art. 20). Only after the password
/// was right is anything written, to a file only its owner can read.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export your measurements and questionnaire answers: FHIR (a JSON Bundle) or CSV (measurements).",
        discussion: """
            FHIR writes one collection Bundle of your Observations and QuestionnaireResponses (FHIR R4). CSV writes one row \
            per measurement: time,kind,code,value,unit,value2,unit2,note,state (blood pressure as value/value2, a pulse taken \
            with it as a heart-rate row). It exports what this computer holds; with --from-server, everything the server \
            holds for you, page by page (run the same command again after an interruption to go on where it stopped). The \
            file is created only its owner can read (0600), never over an existing one, and appears only once complete. \
            Without --output the export goes to standard output, which must not be a terminal.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: "fhir or csv.")
    var format: PatientDataExport.Format

    @Option(help: "The file to create (it must not exist yet).", completion: .file())
    var output: String?

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    @Flag(help: "Export everything the server holds for you, not only what this computer holds (resumable with --output).")
    var fromServer = false

    /// The language of messages before the configuration is read (as `resolve` chooses it, less the file).
    var earlyLocalizer: Localizer {
        Localizer(options.lang.flatMap(Language.init(rawValue:)) ?? Language.fromEnvironment(ProcessInfo.processInfo.environment))
    }

    func validate() throws {
        let t = earlyLocalizer
        if let output {
            guard !output.isEmpty else { throw ValidationError("--output needs a file name.") }
            guard !FileManager.default.fileExists(atPath: output) else { throw ValidationError(t.text(.exportExists, output)) }
        } else if isatty(STDOUT_FILENO) == 1 {
            // Health data is not printed raw on a screen (or into a terminal's scroll-back).
            throw ValidationError(t.text(.cliExportTerminal))
        }
    }

    func run() async throws {
        let t = Localizer(try options.resolve().language)
        let core = try await unlockedCore(options, passwordStdin: passwordStdin)
        if fromServer {
            try await exportFromServer(core, t)
        } else {
            try await exportLocal(core, t)
        }
    }

    /// What the unlocked core gives for the export; a failure is said, and the key dropped.
    func reading<T>(_ core: ClientCore, _ t: Localizer, _ read: (ClientCore) async throws -> T) async throws -> T {
        do {
            return try await read(core)
        } catch {
            await core.lock()
            complain(t.text(.cliExportReadFailed, "\(error)"))
            throw Exit.failure
        }
    }

    /// Writes the export with `write` to a new private file (there only once complete, removed again on
    /// Ctrl-C) or to standard output. A name already taken: exit 2; any other failure: exit 1.
    func writing<T>(_ t: Localizer, _ write: (any ExportSink) throws -> T) throws -> T {
        var file: ExportFile?
        do {
            if let output { file = try ExportFile(creating: output, removeOnSignal: true) }
            let result = try write(file ?? StandardOutputSink())
            try file?.commit()
            return result
        } catch let error as ExportFileError {
            file?.abandon()
            complain(error.text(t))
            if case .exists = error { throw ExitCode(2) }
            throw Exit.failure
        } catch {
            file?.abandon()
            complain(Self.explain(error, t))
            throw Exit.failure
        }
    }

    func exportLocal(_ core: ClientCore, _ t: Localizer) async throws {
        let data = try await reading(core, t) { try await $0.exportData() }
        await core.lock()
        try writing(t) { sink in try PatientExportWriter.write(data, format: format, to: sink, now: SystemClock().now()) }
        if let output { say(t.text(.cliExportDone, String(data.measurements.count), String(format == .fhir ? data.responses.count : 0), output)) }
    }

    func exportFromServer(_ core: ClientCore, _ t: Localizer) async throws {
        let export = try await reading(core, t) { try await $0.serverExport() }
        // Without --output the fetched pages wait in a private directory of their own, gone at the end:
        // such an export starts over if interrupted.
        var scratch: URL?
        defer { if let scratch { try? FileManager.default.removeItem(at: scratch) } }
        let statePath: String
        if let output {
            statePath = output
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-export-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            scratch = directory
            statePath = directory.appendingPathComponent("export").path
        }
        let state: ServerExportState
        do {
            state = try ServerExportState(output: statePath, server: export.server, patientID: export.patientID)
        } catch {
            await core.lock()
            complain(Self.explain(error, t))
            throw Exit.failure
        }
        let progress = ProgressLine(enabled: isatty(STDERR_FILENO) == 1, language: t.language)
        if state.fetched > 0 { progress.note(t.text(.cliExportResuming, progress.number(state.fetched))) }
        do {
            var position = state.position
            // Everything came before (only the writing was interrupted): nothing to ask the server.
            let total = position.isDone ? nil : try await export.total()
            progress.show(fetched: state.fetched, total: total, t)
            while !position.isDone {
                let page = try await export.page(at: position)
                try state.append(page.resources, position: page.position)
                position = page.position
                progress.show(fetched: state.fetched, total: total, t)
            }
            progress.end()
        } catch let error as APIError {
            progress.end()
            await core.lock()
            complain(t.text(.cliExportStopped, core.explain(error)))
            throw error.isOffline ? Exit.offline : error.endsSession ? Exit.locked : Exit.failure
        } catch let error as ServerExportStateError {
            progress.end()
            await core.lock()
            complain(Self.explain(error, t))
            throw Exit.failure
        }
        await core.lock()
        let counts = try writing(t) { sink in
            try PatientExportWriter.write(state, server: export.server, format: format, to: sink, now: SystemClock().now())
        }
        state.remove()
        if counts.notInCSV > 0 { complain(t.text(.cliExportNotInCSV, String(counts.notInCSV))) }
        if let output { say(t.text(.cliExportDone, String(counts.measurements), String(counts.responses), output)) }
    }

    static func explain(_ error: any Error, _ t: Localizer) -> String {
        switch error {
        case ServerExportStateError.otherAccount(let path): t.text(.cliExportStateOther, path)
        case ServerExportStateError.unsafe(let path): t.text(.cliExportStateUnsafe, path)
        case ServerExportStateError.failed(let path, let reason): t.text(.cliExportStateFailed, path, reason)
        case ServerExportStateError.tooLarge: t.text(.cliExportTooLarge, String(ServerExportState.maximumResources))
        default: t.text(.cliExportReadFailed, "\(error)")
        }
    }
}

/// "Fetched 1,200 of 3,400…" on standard error, rewritten in place, only when it is a terminal: piped
/// or redirected, a command says nothing but its errors.
final class ProgressLine {
    let enabled: Bool
    let language: Language
    private var shown = false

    init(enabled: Bool, language: Language) {
        self.enabled = enabled
        self.language = language
    }

    /// 1,200 / 1.200 (Dutch and German group with a dot).
    func number(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { grouped.append(language == .en ? "," : ".") }
            grouped.append(digit)
        }
        return (value < 0 ? "-" : "") + grouped
    }

    func show(fetched: Int, total: Int?, _ t: Localizer) {
        guard enabled else { return }
        let text = total.map { t.text(.cliExportProgress, number(fetched), number(max($0, fetched))) } ?? t.text(.cliExportProgressNoTotal, number(fetched))
        // \r and "erase to the end of the line": the same line, updated.
        _ = ExportFile.writeAll(STDERR_FILENO, Array(("\r" + TerminalText.inert(text) + "\u{1B}[K").utf8))
        shown = true
    }

    func note(_ text: String) {
        guard enabled else { return }
        end()
        complain(text)
    }

    func end() {
        guard shown else { return }
        _ = ExportFile.writeAll(STDERR_FILENO, [0x0A])
        shown = false
    }
}
