import ArgumentParser
import BedsideApp
import BedsideCore
import BedsideSync
import BedsideUI
import BedsideVault
import Foundation

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Try Bedside: starts a reference server on loopback with demo data, logs a demo patient in, opens the app.",
        discussion: "Everything lives in a temporary directory that is removed when you quit. Your own account is not touched.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "Which demo patient to log in as (see the list printed at start).")
    var user = "marie@demo.bedside.test"

    @Flag(help: "Start the server and print the logins, then wait (Ctrl-C stops it); do not open the app.")
    var serverOnly = false

    func run() async throws {
        ProcessHardening.apply()
        var configuration = try options.resolve()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-demo-\(UUID().uuidString.prefix(8))")
        defer { try? SecureFiles.emptyDirectory(root); rmdir(root.path) }
        let t = Localizer(configuration.language)
        // The patient's program holds no server code: the demo runs the `bedside-server` program
        // installed beside it, as a separate process on loopback.
        let server = try DemoServer(directory: root.appendingPathComponent("server"))
        complain(t.text(.cliDemoPreparing))
        let logins = try server.seed()
        try server.start()
        defer { server.stop() }
        say(t.text(.cliDemoServer, server.url, server.caFile, server.mailDirectory.path + "/new/"))
        say(t.text(.cliDemoLogins))
        for login in logins {
            say("  \(login.role.padding(toLength: 9, withPad: " ", startingAt: 0)) \(login.email.padding(toLength: 30, withPad: " ", startingAt: 0)) \(login.password)  \(login.details)")
        }
        if serverOnly {
            complain(t.text(.cliDemoServing))
            await waitForInterrupt()
            return
        }
        guard let login = logins.first(where: { $0.email == user && $0.role == "patient" }) else {
            throw ValidationError("\(user) is not a demo patient.")
        }
        say(t.text(.cliDemoLoggingIn, login.name))
        configuration.dataDirectory = root.appendingPathComponent("client")
        configuration.server = server.url
        configuration.transport.caFile = server.caFile
        let core = try await claimedCore(configuration)
        var session: SessionInfo?
        if case .codeRequested = await core.perform(.requestCode(server: server.url, email: login.email, password: login.password)).first,
            let code = server.latestLoginCode(to: login.email)
        {
            for case .loggedIn(let info) in await core.perform(.verifyCode(code: code)) { session = info }
        }
        guard let session else {
            complain(t.text(.cliDemoLoginFailed))
            throw Exit.failure
        }
        try await runTerminal(configuration: configuration, core: core, startingWith: [.loggedIn(session)])
        await core.lock()
        say(t.text(.cliDemoFinished))
    }

    func waitForInterrupt() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            signal(SIGINT, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .main)
            source.setEventHandler { continuation.resume() }
            source.resume()
            DemoSignal.keep(source)
        }
    }
}

enum DemoSignal {
    nonisolated(unsafe) static var source: DispatchSourceSignal?
    static func keep(_ source: DispatchSourceSignal) { self.source = source }
}

/// The `bedside-server` program, run for the demo: seeded, serving with its development CA on a free
/// loopback port, stopped (SIGTERM) when the demo ends.
final class DemoServer {
    struct Login {
        var role: String
        var email: String
        var password: String
        /// Name, and condition for patients, as `seed-demo` prints them.
        var details: String
        var name: String { details.split(separator: ",").first.map(String.init) ?? details }
    }

    let directory: URL
    let program: URL
    private var process: Process?
    private(set) var url = ""

    var caFile: String { directory.appendingPathComponent("tls/ca.pem").path }
    var mailDirectory: URL { directory.appendingPathComponent("mail") }

    init(directory: URL) throws {
        self.directory = directory
        guard let program = Self.locate() else {
            throw ValidationError("The demo needs the bedside-server program beside bedside or on the PATH, and it was not found. In a checkout, `swift build` builds both.")
        }
        self.program = program
    }

    /// Beside this executable first (a build directory, an install), then on the PATH.
    static func locate() -> URL? {
        let own = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        var candidates = [own.deletingLastPathComponent().appendingPathComponent("bedside-server")]
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append(URL(fileURLWithPath: String(folder)).appendingPathComponent("bedside-server"))
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// `seed-demo`, and the logins it printed.
    func seed() throws -> [Login] {
        let output = try runToEnd(["seed-demo", "--data-dir", directory.path])
        // "  patient   marie@demo.bedside.test   password demo-patient-2026   (Marie Jansen, heart failure)"
        return output.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count >= 5, words[2] == "password", let open = line.firstIndex(of: "("), line.hasSuffix(")") else { return nil }
            return Login(
                role: String(words[0]), email: String(words[1]), password: String(words[3]),
                details: String(line[line.index(after: open)..<line.index(before: line.endIndex)]))
        }
    }

    /// `serve --dev-tls --port 0`; returns once it says where it listens.
    func start() throws {
        let process = Process()
        process.executableURL = program
        process.arguments = ["serve", "--dev-tls", "--port", "0", "--data-dir", directory.path, "--log-level", "error"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        var seen = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: "listening on https://127.0.0.1:"), let end = seen[range.upperBound...].firstIndex(of: "/") {
                url = "https://127.0.0.1:" + seen[range.upperBound..<end]
                return
            }
        }
        stop()
        throw ValidationError("bedside-server did not start: \(TerminalText.inert(seen))")
    }

    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// The newest login code mailed to `email` (the server's development mail is a folder of files).
    func latestLoginCode(to email: String) -> String? {
        let folder = mailDirectory.appendingPathComponent("new")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()) ?? []
        for file in files.reversed() {
            guard let text = try? String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8), text.contains("To: \(email)\r\n")
            else { continue }
            // The line ending with ": " and six digits, in whichever language the mail is written.
            for line in text.split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.dropLast(6).hasSuffix(": "), trimmed.suffix(6).allSatisfy({ $0.isASCII && $0.isNumber }) { return String(trimmed.suffix(6)) }
            }
        }
        return nil
    }

    private func runToEnd(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("bedside-server \(arguments.first ?? "") failed (exit \(process.terminationStatus)).")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
