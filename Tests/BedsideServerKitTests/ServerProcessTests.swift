import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Synchronization
import Testing

@testable import BedsideServerKit

/// The real `bedside-server` executable, run as a child process.
struct ServerExecutable {
    static var path: String {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        while !directory.path.isEmpty, directory.path != "/" {
            let candidate = directory.appendingPathComponent("bedside-server")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            directory = directory.deletingLastPathComponent()
        }
        return ".build/debug/bedside-server"
    }

    /// Runs a command to completion, feeding `input` on stdin (off the pool: see `offPool`).
    static func run(_ arguments: [String], input: String = "") async throws -> (status: Int32, output: String, error: String) {
        let result = try await ChildProcess.run(path, arguments, input: input)
        return (result.status, result.outputText, result.errors)
    }

    /// Starts `serve --dev-tls --port 0` (plus `arguments`) and returns the process and its port once it
    /// listens, with its output (standard output and error together), read for as long as it runs.
    static func serve(dataDirectory: String, arguments: [String] = []) throws -> (Process, Int, OutputTail) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["serve", "--dev-tls", "--port", "0", "--data-dir", dataDirectory, "--log-level", "warning"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try ProcessLaunch.run(process)
        try? output.fileHandleForWriting.close()
        let tail = OutputTail(output.fileHandleForReading)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, process.isRunning {
            let seen = tail.text
            if let range = seen.range(of: #"127\.0\.0\.1:(\d+)/fhir"#, options: .regularExpression) {
                let port = seen[range].dropFirst("127.0.0.1:".count).prefix { $0.isNumber }
                if let port = Int(port) { return (process, port, tail) }
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.terminate()
        throw TestFailure("the server did not start: \(tail.text)")
    }
}

/// A `bedside-server serve` process on a data directory, with a TLS client that trusts its dev CA.
final class ServedDirectory: Sendable {
    let process: Process
    let port: Int
    let data: String
    let transport: HTTPTransport
    /// The server's last lines (its log at warning level and above), for a failing test to show.
    let output: OutputTail
    var base: String { "https://127.0.0.1:\(port)" }

    /// `caFile`: the CA the client trusts, by default the one in `data/tls/`. The wait for the server to
    /// listen happens on a thread of its own, never on the test's (the cooperative pool serves every
    /// in-process test server too).
    init(_ data: String, arguments: [String] = [], caFile: String? = nil) async throws {
        (process, port, output) = try await offPool { try ServerExecutable.serve(dataDirectory: data, arguments: arguments) }
        self.data = data
        transport = HTTPTransport(configuration: TransportConfiguration(caFile: caFile ?? data + "/tls/ca.pem"))
    }

    /// Password, then the code from the maildir: the session token and the patient's id.
    func login(email: String, password: String) async throws -> (token: String, patientID: String) {
        try await ServerProcessTests.login(email: email, password: password, base: base, data: data, transport: transport)
    }

    /// A request with the token, JSON in and out.
    func send(_ method: String, _ path: String, token: String, json: JSONValue? = nil) async throws -> HTTPResponseData {
        var headers = [("Authorization", "Bearer \(token)")]
        if json != nil { headers.append(("Content-Type", "application/fhir+json")) }
        return try await transport.send(HTTPRequestSpec(method: method, url: base + path, headers: headers, body: json?.serialized()))
    }

    private let ended = Mutex(false)

    /// True the first time only.
    private func end() -> Bool { ended.withLock { was in defer { was = true }; return !was } }

    /// SIGTERM, and waits for the process to end (once: a second call does nothing); one that has not
    /// ended after 30 s is killed, so that a server stuck in its shutdown fails its test instead of
    /// holding the whole run.
    func stop() {
        guard end() else { return }
        transport.closeConnections()
        process.terminate()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            Issue.record("bedside-server on port \(port) did not end within 30 s of SIGTERM; killed. Its last lines:\n\(output.lastLines(40))")
            Glibc.kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    /// SIGKILL: no chance to flush anything.
    func kill() {
        guard end() else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        transport.closeConnections()
    }
}

@Suite("bedside-server as a process")
struct ServerProcessTests {
    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("bedside-process-\(UUID().uuidString)").path
    }

    @Test("user add enforces the password policy and changes nothing on refusal")
    func userAddPolicy() async throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let weak = try await ServerExecutable.run(
            ["user", "add", "--role", "patient", "--email", "weak@example.org", "--password-stdin", "--data-dir", data], input: "Password1234\n")
        #expect(weak.status != 0)
        #expect(weak.error.contains("too common"))
        let short = try await ServerExecutable.run(
            ["user", "add", "--role", "patient", "--email", "weak@example.org", "--password-stdin", "--data-dir", data], input: "tiny-1\n")
        #expect(short.error.contains("at least 12 characters"))
        let good = try await ServerExecutable.run(
            ["user", "add", "--role", "clinician", "--email", "Nurse@Example.org", "--name", "Nina Nurse", "--password-stdin", "--data-dir", data],
            input: "lantern-orbit-meadow-42\n")
        #expect(good.status == 0, "\(good.error)")
        #expect(good.output.contains("Created clinician nurse@example.org (Practitioner/"))
        let list = try await ServerExecutable.run(["user", "list", "--data-dir", data])
        #expect(list.output.components(separatedBy: "\n").filter { $0.contains("@") }.count == 1)
        let mode = try FileManager.default.attributesOfItem(atPath: data)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        let databaseMode = try FileManager.default.attributesOfItem(atPath: data + "/bedside-server.sqlite")[.posixPermissions] as? Int
        #expect(databaseMode == 0o600)
    }

    @Test("a second serve on the same SQLite data directory is refused with a sentence naming the first; once that stops, it starts")
    func oneServePerDirectory() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("serve-lock-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try await ServedDirectory(data)
        // Bounded: a second server that started anyway is stopped by timeout (status 124) instead of hanging the test.
        let second = try await ChildProcess.run(
            "/usr/bin/timeout", ["20", ServerExecutable.path, "serve", "--dev-tls", "--port", "0", "--data-dir", data, "--log-level", "warning"])
        #expect(second.status != 0 && second.status != 124, "\(second.status)")
        #expect(second.errors.contains("Another bedside-server (process \(first.process.processIdentifier)) is serving"), "\(second.errors)")
        first.stop()
        let again = try await ServedDirectory(data)
        again.stop()
    }

    @Test("an acknowledged write survives kill -9 of the server")
    func durableAfterKill() async throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let email = "durable@example.org"
        let added = try await ServerExecutable.run(
            ["user", "add", "--role", "patient", "--email", email, "--password-stdin", "--data-dir", data], input: "lantern-orbit-meadow-42\n")
        #expect(added.status == 0, "\(added.error)")

        let first = try await ServedDirectory(data)
        defer { first.kill() }
        let (token, patientID) = try await first.login(email: email, password: "lantern-orbit-meadow-42")

        let observations = (0..<20).map { index in
            ObservationBuilder.observation(
                kind: .heartRate, values: [.init(part: .heartRate, value: Double(60 + index))],
                effective: FHIRDateTime.format(epochMilliseconds: SystemClock().now() - Int64(index) * 60_000, utcOffsetSeconds: 0),
                patientID: patientID, clientID: UUID().uuidString.lowercased())
        }
        let bundle: JSONValue = [
            "resourceType": "Bundle", "type": "transaction",
            "entry": .array(observations.map { ["resource": $0, "request": ["method": "POST", "url": "Observation"]] }),
        ]
        let stored = try await first.send("POST", "/fhir", token: token, json: bundle)
        #expect(stored.status == 200)
        // The answer is in: kill the server without any chance to flush.
        first.kill()

        let second = try await ServedDirectory(data)
        defer { second.stop() }
        let (token2, _) = try await second.login(email: email, password: "lantern-orbit-meadow-42")
        let search = try await second.send("GET", "/fhir/Observation?patient=\(patientID)&_count=100", token: token2)
        #expect(search.entries.count == 20)
        let store = try SQLiteServerStore(path: data + "/bedside-server.sqlite", encryption: .masterKey(MasterKeyFile(path: data + "/master.key")))
        #expect(try store.integrityCheck() == "ok")
        try store.close()
    }

    static func login(email: String, password: String, base: String, data: String, transport: HTTPTransport) async throws -> (String, String) {
        let login = try await transport.send(HTTPRequestSpec(
            method: "POST", url: base + "/auth/login", headers: [("Content-Type", "application/json")],
            body: JSONValue.object(["username": .string(email), "password": .string(password)]).serialized()))
        let challenge = try #require(login.json?["challenge"]?.stringValue)
        let code = try #require(MaildirMailer(directory: URL(fileURLWithPath: data + "/mail")).latestLoginCode(to: email))
        let otp = try await transport.send(HTTPRequestSpec(
            method: "POST", url: base + "/auth/otp", headers: [("Content-Type", "application/json")],
            body: JSONValue.object(["challenge": .string(challenge), "code": .string(code)]).serialized()))
        return (try #require(otp.json?["accessToken"]?.stringValue), try #require(otp.json?["patient"]?.stringValue))
    }
}
