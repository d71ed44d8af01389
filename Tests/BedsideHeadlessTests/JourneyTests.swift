@testable import BedsideApp
import BedsideSync
import BedsideCore
@testable import BedsideServerKit
import BedsideUI
import BedsideVault
import Foundation
import BedsideTestSupport
import Testing

@testable import BedsideHeadless

/// Journeys log in against the real server. Server and client share one virtual clock at a fixed moment,
/// so screens (and snapshots) are the same on every run and `tick` moves the whole world, as real time would.
typealias JourneyServer = LoopbackServer

let journeyStart = FHIRDateTime("2026-01-15T09:30:00Z")?.lowerBound ?? 0

func journeyServer() async throws -> JourneyServer {
    try await LoopbackServer(clock: ManualClock(epochMilliseconds: journeyStart))
}

/// A fresh client for one script: its own data directory, a virtual clock, the real ClientCore.
struct JourneyClient {
    let dataDirectory: URL
    let runner: HeadlessRunner
    let core: ClientCore
    var output: [String] { lines.value }
    let lines: LineCollector
    let exportDirectory: URL

    /// `proxy`, when given, stands between the app and the server, and the script's `network off|on` cuts it.
    init(
        server: JourneyServer, email: String, password: String, proxy: FaultProxy? = nil, width: Int = 80, height: Int = 24,
        kiosk: Bool = false
    ) {
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("journey-client-\(UUID().uuidString)/default")
        let url = proxy.map { "https://127.0.0.1:\($0.port)" } ?? server.url
        var configuration = ClientConfiguration(dataDirectory: dataDirectory, server: url, transport: .init(caFile: server.caFile))
        configuration.kdf = .testing
        configuration.kiosk = kiosk
        let clock = (server.clock as? ManualClock) ?? ManualClock(epochMilliseconds: journeyStart)
        core = ClientCore(configuration: configuration, clock: clock)
        let state = configuration.initialState(width: width, height: height, now: clock.now(), utcOffsetSeconds: 0, idSeed: 42)
        let collector = LineCollector()
        lines = collector
        // Where a journey's exports go (`${EXPORT_DIR}`): beside the data directory, never the real home.
        let exports = dataDirectory.deletingLastPathComponent().appendingPathComponent("exports")
        try? FileManager.default.createDirectory(at: exports, withIntermediateDirectories: true)
        exportDirectory = exports
        runner = HeadlessRunner(
            state: state, core: core, clock: clock,
            variables: { name in
                // Read when the step runs: the code exists only after the password step.
                switch name {
                case "EMAIL": email
                case "PASSWORD": password
                case "LOGIN_CODE": server.latestCode(for: email)
                case "SERVER": url
                case "EXPORT_DIR": exports.path
                default: nil
                }
            },
            snapshotDirectory: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Snapshots").standardized,
            output: { collector.append($0) },
            network: proxy.map { proxy in
                { @Sendable on in
                    proxy.fault = on ? .none : .down
                    proxy.closeConnections()
                }
            },
            // A missing snapshot fails the journey; BEDSIDE_RECORD_SNAPSHOTS=1 writes it instead.
            recordSnapshots: ProcessInfo.processInfo.environment["BEDSIDE_RECORD_SNAPSHOTS"] == "1")
    }

    /// Every file left in the data directory, with its bytes.
    func files() -> [(String, Data)] {
        let names = (try? FileManager.default.subpathsOfDirectory(atPath: dataDirectory.path)) ?? []
        return names.compactMap { name in
            let path = dataDirectory.appendingPathComponent(name).path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let data = FileManager.default.contents(atPath: path)
            else { return nil }
            return (name, data)
        }
    }
}

final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var value: [String] { lock.withLock { lines } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }
}

@Suite("Headless journeys (Tests/Scripts)", .serialized)
struct JourneyTests {
    static let scriptsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Scripts").standardized

    static var scripts: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: scriptsDirectory.path)) ?? []).filter { $0.hasSuffix(".bedside") }.sorted()
    }

    @Test("the scripts are there: a missing folder would pass the journeys by running none")
    func scriptsExist() {
        #expect(Self.scripts.count >= 10, "\(Self.scriptsDirectory.path)")
    }

    @Test("every script in Tests/Scripts passes against the real server", arguments: JourneyTests.scripts)
    func script(_ name: String) async throws {
        let server = try await journeyServer()
        let email = "\(name.split(separator: ".")[0])@example.org"
        let password = "journey-lantern-orbit-42"
        _ = try await server.administration.addUser(email: email, role: .patient, password: password, name: "Test Patient")
        let text = try String(contentsOf: Self.scriptsDirectory.appendingPathComponent(name), encoding: .utf8)
        try await Self.prepare(server, for: email, from: text)
        let proxy = try FaultProxy(upstreamPort: server.running.port)
        defer { proxy.stop() }
        let client = JourneyClient(server: server, email: email, password: password, proxy: proxy)
        let script = try ScriptParser.parse(text, name: name)
        let result = await client.runner.run(script)
        await client.core.lock()
        await server.stop()
        #expect(result.failed == 0, "\(client.output.joined(separator: "\n"))")
        #expect(result.passed == script.steps.count)
        try Self.afterwards[name]?(client)
        try? FileManager.default.removeItem(at: client.dataDirectory.deletingLastPathComponent())
    }

    /// What some scripts leave behind besides the screens, checked once they ran.
    static let afterwards: [String: @Sendable (JourneyClient) throws -> Void] = [
        // The home screen's export wrote the patient's CSV to a new 0600 file, and the second try did not replace it.
        "export-my-data.bedside": { client in
            let path = client.exportDirectory.appendingPathComponent("mine.csv").path
            let csv = try String(contentsOfFile: path, encoding: .utf8)
            #expect(csv.hasPrefix("time,kind,code,value,unit,value2,unit2,note,state\r\n"))
            #expect(csv.contains(",weight,29463-7,82.4,kg,,,,"), "\(csv)")
            #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: client.exportDirectory.path) == ["mine.csv"], "no temporary file left")
        }
    ]

    static let questionnairesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/Questionnaires").standardized

    /// What a script needs on the server before it starts, from its `# given:` comment lines (the script
    /// language itself has no server commands): `# given: assign FIXTURE.json [due DATE]` makes the care
    /// team assign a questionnaire from Tests/Fixtures/Questionnaires to the script's patient.
    static func prepare(_ server: JourneyServer, for email: String, from script: String) async throws {
        for line in script.split(separator: "\n") where line.hasPrefix("# given: ") {
            let words = line.dropFirst("# given: ".count).split(separator: " ").map(String.init)
            guard words.first == "assign", words.count >= 2 else { throw JourneySetupError(line: String(line)) }
            let data = try Data(contentsOf: questionnairesDirectory.appendingPathComponent(words[1]))
            let questionnaire = try JSONParser.parse(Array(data))
            let due = words.count >= 4 && words[2] == "due" ? FHIRDateTime(words[3]) : nil
            _ = try await server.administration.assign(questionnaire: questionnaire, patientEmail: email, due: due)
        }
    }

    struct JourneySetupError: Error, CustomStringConvertible {
        var line: String
        var description: String { "Unknown setup line: \(line) (expected '# given: assign FILE.json [due DATE]')" }
    }

    @Test("a sentinel note and value typed in the UI reach no file, in any encoding; logout leaves the directory empty")
    func sentinel() async throws {
        let server = try await journeyServer()
        let email = "sentinel@example.org"
        let password = "journey-lantern-orbit-42"
        _ = try await server.administration.addUser(email: email, role: .patient, password: password, name: "Test Patient")
        let client = JourneyClient(server: server, email: email, password: password)
        let note = "SENTINEL-NOTE-a1b2c3-ankles"
        let value = "77.31"
        let script = try ScriptParser.parse(
            """
            type "${EMAIL}"
            press Tab
            type "${PASSWORD}"
            press Enter
            type "${LOGIN_CODE}"
            press Enter
            press a
            press 2
            type "\(value)"
            press Tab
            press Tab
            type "\(note)"
            press Enter
            expect "Saved"
            """, name: "sentinel")
        let result = await client.runner.run(script)
        #expect(result.failed == 0, "\(client.output.joined(separator: "\n"))")
        let files = client.files()
        #expect(files.contains { $0.0 == "bedside.sqlite" })
        for secret in [note, value, password, email] {
            for form in secretEncodings(secret) {
                for (name, bytes) in files {
                    #expect(bytes.range(of: form) == nil, "\(secret) leaked into \(name)")
                }
            }
        }
        for (name, _) in files {
            let mode = try FileManager.default.attributesOfItem(atPath: client.dataDirectory.appendingPathComponent(name).path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(name)")
        }
        #expect(try FileManager.default.attributesOfItem(atPath: client.dataDirectory.path)[.posixPermissions] as? Int == 0o700)

        // Logout: the server forgets the token, the directory is empty.
        let token = try #require(await client.core.currentToken)
        let logout = try ScriptParser.parse("press L\npress y\nexpect \"Logged out\"", name: "logout")
        #expect(await client.runner.run(logout).failed == 0, "\(client.output.joined(separator: "\n"))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: client.dataDirectory.path).isEmpty)
        let transport = HTTPTransport(configuration: TransportConfiguration(caFile: server.caFile))
        let answer = try await transport.send(.init(method: "GET", url: server.url + "/fhir/metadata", headers: []))
        #expect(answer.status == 200)
        let rejected = try await transport.send(
            .init(method: "GET", url: server.url + "/fhir/Patient", headers: [("Authorization", "Bearer \(token)")]))
        #expect(rejected.status == 401)
        transport.closeConnections()
        await server.stop()
    }

    @Test("text from the server is shown inert: a name with escape sequences cannot drive the terminal")
    func serverTextInert() async throws {
        let server = try await journeyServer()
        let email = "inert@example.org"
        let password = "journey-lantern-orbit-42"
        _ = try await server.administration.addUser(
            email: email, role: .patient, password: password, name: "Eve\u{1B}]0;owned\u{07}\u{1B}[2J Smith")
        let client = JourneyClient(server: server, email: email, password: password)
        let script = try ScriptParser.parse(loginSteps, name: "inert")
        #expect(await client.runner.run(script).failed == 0, "\(client.output.joined(separator: "\n"))")
        let header = client.runner.frame.lines[0]
        #expect(header.contains("Eve␛]0;owned␇␛[2J Smith"))
        #expect(!client.runner.frame.text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
        await client.core.lock()
        #expect(await client.core.isUnlocked == false)
        await server.stop()
    }

    @Test("locking drops the key: after the idle lock the core can read nothing")
    func lockDropsKey() async throws {
        let server = try await journeyServer()
        let email = "lock@example.org"
        let password = "journey-lantern-orbit-42"
        _ = try await server.administration.addUser(email: email, role: .patient, password: password, name: "Lock Test")
        let client = JourneyClient(server: server, email: email, password: password)
        let login = try ScriptParser.parse(loginSteps, name: "login")
        #expect(await client.runner.run(login).failed == 0)
        #expect(await client.core.isUnlocked)
        #expect(await client.runner.run(try ScriptParser.parse("tick 15m\nexpect \"Bedside is locked\"", name: "lock")).failed == 0)
        #expect(await client.core.isUnlocked == false)
        #expect(await client.core.perform(.loadHistory(kind: .bodyWeight, after: nil)).isEmpty)
        await server.stop()
    }

    @Test("what the server already has (a nurse's entry, earlier history) appears after login, once")
    func pulledAtLogin() async throws {
        let server = try await journeyServer()
        let email = "pulled@example.org"
        let password = "journey-lantern-orbit-42"
        let account = try await server.administration.addUser(email: email, role: .patient, password: password, name: "Pull Test")
        let patientID = try #require(account.patientID)
        let nurseEntry = ObservationBuilder.observation(
            kind: .oxygenSaturation, values: [.init(part: .oxygenSaturation, literal: "93")], effective: "2026-01-14T08:15:00+01:00",
            patientID: patientID, clientID: nil, note: "measured at the clinic")
        let stored = FHIRService.stamp(nurseEntry, type: .observation, id: "nurse-1", version: 1, at: SystemClock().now())
        try await server.store.write { db in try db.put(stored) }
        let client = JourneyClient(server: server, email: email, password: password)
        let script = try ScriptParser.parse(
            loginSteps + """

                expect "93 %"
                press h
                press Right Right Right
                expect "History: Oxygen saturation  (1 of 1)"
                expect "measured at"
                expect "sent"
                sync
                expect "(1 of 1)"
                """, name: "pull")
        #expect(await client.runner.run(script).failed == 0, "\(client.output.joined(separator: "\n"))")
        await client.core.lock()
        await server.stop()
    }

    @Test("script errors name the line")
    func parseErrors() {
        #expect(throws: ScriptError(name: "x", line: 2, message: "unknown command jump (size type type-stdin press expect expect-not expect-line wait-for tick resize sync network screen snapshot)")) {
            try ScriptParser.parse("size 80x24\njump", name: "x")
        }
        #expect(throws: ScriptError.self) { try ScriptParser.parse("type \"open", name: "x") }
        #expect(throws: ScriptError.self) { try ScriptParser.parse("press Hyper", name: "x") }
        #expect(throws: ScriptError.self) { try ScriptParser.parse("tick soon", name: "x") }
        #expect(throws: ScriptError.self) { try ScriptParser.parse("size 10x2", name: "x") }
        let script = try? ScriptParser.parse("# comment\n\npress Ctrl-C Enter  # trailing\nwait-for \"a # b\" 2s", name: "x")
        #expect(script?.steps.map(\.command) == [.press([.control("c"), .enter]), .waitFor("a # b", milliseconds: 2000)])
    }
}

/// The steps that log a journey's patient in.
/// E-mail, password, the mailed code: the login form filled in, for any account.
let credentialSteps = "type \"${EMAIL}\"\npress Tab\ntype \"${PASSWORD}\"\npress Enter\ntype \"${LOGIN_CODE}\"\npress Enter\n"
let loginSteps = credentialSteps + "expect \"Today\""

/// UTF-8, UTF-16 both ways, hex both cases, and base64 at each byte alignment.
func secretEncodings(_ secret: String) -> [Data] {
    var forms = [Data(secret.utf8)]
    if let little = secret.data(using: .utf16LittleEndian), let big = secret.data(using: .utf16BigEndian) { forms += [little, big] }
    let hex = secret.utf8.map { String(format: "%02x", $0) }.joined()
    forms += [Data(hex.utf8), Data(hex.uppercased().utf8)]
    for shift in 0..<3 {
        let encoded = Data(Array(repeating: 0, count: shift) + Array(secret.utf8)).base64EncodedString()
        let stable = encoded.dropFirst(shift == 0 ? 0 : 4).dropLast(4)
        if stable.count >= 6 { forms.append(Data(stable.utf8)) }
    }
    return forms
}

@Suite("Messages in the patient's language")
struct LocalizedMessageTests {
    @Test("a wrong password and an unreachable server are explained in Dutch and German", arguments: [Language.nl, .de])
    func localized(_ language: Language) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("localized-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try SecureFiles.makePrivateDirectory(directory)
        let (vault, wrapped) = try KeyVault.create(password: "right-password-12", parameters: .testing)
        try SecureFiles.writePrivate(try wrapped.encoded(), to: directory.appendingPathComponent("vault.key"))
        vault.lock()
        var configuration = ClientConfiguration(dataDirectory: directory, server: "https://127.0.0.1:9")
        configuration.language = language
        let core = ClientCore(configuration: configuration, clock: SystemClock())
        let wrong = await core.perform(.unlock(password: "wrong-password-1"))
        guard case .unlockFailed(let message) = wrong.first else { Issue.record("\(wrong)"); return }
        #expect(message == Localizer(language).text(.unlockWrong))
        let offline = await core.perform(.requestCode(server: "https://127.0.0.1:9", email: "a@b.c", password: "x"))
        guard case .loginFailed(let reason) = offline.first else { Issue.record("\(offline)"); return }
        #expect(reason == Localizer(language).text(.errorUnreachable))
    }
}

