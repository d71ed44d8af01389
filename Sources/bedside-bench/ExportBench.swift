import ArgumentParser
import BedsideCore
@_spi(Benchmarks) import BedsideServerKit
import BedsideSync
import Foundation
import BedsideTestSupport

/// `bedside-bench export`: Bulk Data `$export` of every patient's Observations from a real
/// `bedside-server` process (1,000 patients, 1,000,000 Observations by default), as an EMR with a
/// SMART backend token runs it: kick-off, polling, every NDJSON file fetched. The baseline, in the same
/// run on the same data: the plain paged search an EMR would otherwise use, `Observation?patient=X`
/// page by page for each patient. Each side runs in a fresh server process whose peak resident size
/// (VmHWM) is read from /proc, so the two memory figures are the server's own.
struct ExportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Bulk Data $export of 1,000 patients / 1,000,000 Observations against paged search, seconds and server peak RSS.")

    @Option(help: "Patients.")
    var patients = 1000

    @Option(help: "Observations, spread evenly over the patients.")
    var observations = 1_000_000

    @Option(help: "_count of each search page (the server's maximum is 1000).")
    var pageSize = 1000

    @Option(help: "The bedside-server binary (default: the one beside this benchmark).")
    var serverBinary: String?

    static let scopes = "system/Patient.rs system/Observation.rs"

    func validate() throws {
        guard (1...100_000).contains(patients) else { throw ValidationError("--patients must be between 1 and 100000.") }
        guard (1...50_000_000).contains(observations) else { throw ValidationError("--observations must be between 1 and 50000000.") }
        guard (1...1000).contains(pageSize) else { throw ValidationError("--page-size must be between 1 and 1000.") }
    }

    func run() async throws {
        let binary = serverBinary ?? Self.siblingServerBinary()
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("bedside-server was not found at \(binary); build it (swift build -c release) or pass --server-binary.")
        }
        let root = URL(fileURLWithPath: NSTemporaryDirectory() + "bedside-bench-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let dataDirectory = root.appendingPathComponent("server")

        // 1. The data, written straight into the store (ingest is `bedside-bench server`'s subject).
        let emr = TestEMR(kid: "bench-emr")
        let ((patientIDs, clientID), seedMS) = try await measureAsync {
            try await Self.seed(dataDirectory: dataDirectory, patients: patients, observations: observations, emr: emr)
        }
        let databaseBytes = Self.size(of: URL(fileURLWithPath: ServerConfiguration(dataDirectory: dataDirectory).databasePath))

        // 2. The baseline: paged search, patient by patient, in a server of its own.
        let searchServer = try ServerProcess(binary: binary, dataDirectory: dataDirectory)
        let (searched, searchMS) = try await measureAsync {
            try await searchServer.withEMR(emr, clientID: clientID) { emr in
                try await Self.pagedSearch(emr, patientIDs: patientIDs, pageSize: pageSize)
            }
        }
        let searchMemory = searchServer.stop()
        guard searched.resources == observations else {
            throw ValidationError("paged search found \(searched.resources) of the \(observations) Observations")
        }

        // 3. $export of the same Observations, files fetched, in a fresh server.
        let exportServer = try ServerProcess(binary: binary, dataDirectory: dataDirectory)
        let (exported, exportMS) = try await measureAsync {
            try await exportServer.withEMR(emr, clientID: clientID) { emr in
                try await Self.bulkExport(emr, serverPeakKB: { ServerProcess.status("VmHWM", pid: exportServer.process.processIdentifier) ?? 0 })
            }
        }
        let exportMemory = exportServer.stop()
        guard exported.resources == observations else {
            throw ValidationError("$export wrote \(exported.resources) of the \(observations) Observations")
        }

        let report: JSONValue = [
            "benchmark": "export",
            "build": .string(buildConfiguration),
            "patients": .number(patients),
            "observations": .number(observations),
            "seedSeconds": .number(round3(seedMS / 1000)),
            "databaseMiB": .number(round3(Double(databaseBytes) / 1_048_576)),
            "pagedSearch": [
                "seconds": .number(round3(searchMS / 1000)),
                "requests": .number(searched.requests),
                "responseMiB": .number(round3(Double(searched.bytes) / 1_048_576)),
                "serverStartRSSMiB": .number(round3(Double(searchMemory.startKB) / 1024)),
                "serverPeakRSSMiB": .number(round3(Double(searchMemory.peakKB) / 1024)),
            ],
            "bulkExport": [
                "seconds": .number(round3(exportMS / 1000)),
                "secondsToManifest": .number(round3(exported.manifestMS / 1000)),
                "files": .number(exported.files),
                "requests": .number(exported.requests),
                "ndjsonMiB": .number(round3(Double(exported.bytes) / 1_048_576)),
                "serverStartRSSMiB": .number(round3(Double(exportMemory.startKB) / 1024)),
                "serverPeakRSSMiBBeforeDownloads": .number(round3(Double(exported.peakKBAtManifest) / 1024)),
                "serverPeakRSSMiB": .number(round3(Double(exportMemory.peakKB) / 1024)),
            ],
            // Below 1: the export is faster, or lighter, than paging through the same data.
            "exportToSearchTimeRatio": .number(round3(exportMS / max(searchMS, 0.001))),
            "exportToSearchPeakRSSRatio": .number(round3(Double(exportMemory.peakKB) / Double(max(searchMemory.peakKB, 1)))),
        ]
        print(report.serializedString())
    }

    static func siblingServerBinary() -> String {
        let own = URL(fileURLWithPath: CommandLine.arguments.first ?? "bedside-bench").resolvingSymlinksInPath()
        return own.deletingLastPathComponent().appendingPathComponent("bedside-server").path
    }

    static func size(of file: URL) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
    }

    // MARK: Seeding

    /// Patients, their Observations (in transactions of 10,000), and the EMR registered with its public key.
    static func seed(dataDirectory: URL, patients: Int, observations: Int, emr: TestEMR) async throws -> ([String], String) {
        let configuration = ServerConfiguration(dataDirectory: dataDirectory)
        let store = try configuration.openStore()
        defer { try? store.close() }
        let clock = SystemClock()
        let administration = ServerAdministration(store: store, clock: clock, hasher: .testing)
        var patientIDs: [String] = []
        for index in 0..<patients {
            let account = try await administration.addUser(
                email: "patient-\(index)@bench.bedside.test", role: .patient, password: "bench-password-\(index)-x", name: "Bench Patient \(index)")
            if let id = account.patientID { patientIDs.append(id) }
        }
        let now = clock.now()
        var generator = SystemRandomNumberGenerator()
        var written = 0
        while written < observations {
            let batch = min(10_000, observations - written)
            try store.writeNow { db in
                for offset in 0..<batch {
                    let index = written + offset
                    let patientID = patientIDs[index % patientIDs.count]
                    let (kind, values) = KioskBench.ordinary(index / patientIDs.count, using: &generator)
                    // A reading every 30 minutes going back in time, per patient.
                    let time = now - Int64(index / patientIDs.count) * 1_800_000 - 60_000
                    try db.put(KioskBench.observation(kind: kind, values: values, patientID: patientID, at: time))
                }
            }
            written += batch
        }
        let client = try await administration.addClient(name: "Bench EMR", jwks: emr.jwks, scopes: scopes)
        return (patientIDs, client.id)
    }

    // MARK: The two ways out

    struct Fetched {
        var resources = 0
        var requests = 0
        var bytes = 0
        var files = 0
        var manifestMS = 0.0
        /// The server's peak resident size when the manifest was there, before any file was fetched.
        var peakKBAtManifest = 0
    }

    static func pagedSearch(_ emr: BenchEMR, patientIDs: [String], pageSize: Int) async throws -> Fetched {
        var fetched = Fetched()
        for patientID in patientIDs {
            var next: String? = "\(emr.baseURL)/fhir/Observation?patient=\(patientID)&_count=\(pageSize)"
            while let url = next {
                let answer = try await emr.get(url)
                guard answer.status == 200, let bundle = answer.json else {
                    throw ValidationError("search answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
                }
                fetched.requests += 1
                fetched.bytes += answer.body.count
                fetched.resources += bundle["entry"]?.arrayValue?.count ?? 0
                next = bundle["link"]?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue
            }
        }
        return fetched
    }

    static func bulkExport(_ emr: BenchEMR, serverPeakKB: () -> Int) async throws -> Fetched {
        var fetched = Fetched()
        let start = ContinuousClock.now
        let kickOff = try await emr.get(
            "\(emr.baseURL)/fhir/Patient/$export?_type=Observation", headers: [("Prefer", "respond-async"), ("Accept", "application/fhir+json")])
        guard kickOff.status == 202, let status = kickOff.header("content-location") else {
            throw ValidationError("$export answered \(kickOff.status): \(String(decoding: kickOff.body.prefix(300), as: UTF8.self))")
        }
        fetched.requests += 1
        var manifest: JSONValue?
        while manifest == nil {
            let answer = try await emr.get(status)
            fetched.requests += 1
            switch answer.status {
            case 202: try await Task.sleep(for: .milliseconds(250))
            case 200: manifest = answer.json
            default: throw ValidationError("the export's status answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
            }
        }
        let elapsed = ContinuousClock.now - start
        fetched.manifestMS = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        fetched.peakKBAtManifest = serverPeakKB()
        for file in manifest?["output"]?.arrayValue ?? [] {
            guard let url = file["url"]?.stringValue else { continue }
            let answer = try await emr.get(url)
            guard answer.status == 200 else { throw ValidationError("\(url) answered \(answer.status)") }
            fetched.requests += 1
            fetched.files += 1
            fetched.bytes += answer.body.count
            fetched.resources += answer.body.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        }
        _ = try await emr.send("DELETE", status)
        return fetched
    }
}

/// The EMR's side of one server process: a SMART Backend Services token (renewed before its five
/// minutes run out) and requests over TLS with it.
struct BenchEMR {
    let baseURL: String
    let emr: TestEMR
    let clientID: String
    let transport: HTTPTransport
    private let token: TokenBox

    final class TokenBox: @unchecked Sendable {
        var value = ""
        var obtained = ContinuousClock.now - .seconds(3600)
    }

    init(baseURL: String, emr: TestEMR, clientID: String, caFile: String) {
        self.baseURL = baseURL
        self.emr = emr
        self.clientID = clientID
        var configuration = TransportConfiguration(caFile: caFile)
        configuration.maximumResponseBytes = 1 << 30  // an NDJSON file of 100,000 resources is tens of MiB
        configuration.totalTimeoutSeconds = 600
        self.transport = HTTPTransport(configuration: configuration)
        self.token = TokenBox()
    }

    private func accessToken() async throws -> String {
        if ContinuousClock.now - token.obtained < .seconds(200) { return token.value }
        let audience = baseURL + "/auth/token"
        let assertion = try await emr.assertion(clientID: clientID, audience: audience, now: SystemClock().now())
        let form = TestEMR.form(assertion: assertion, scope: ExportBench.scopes)
        let answer = try await transport.send(
            HTTPRequestSpec(
                method: "POST", url: audience, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: form))
        guard answer.status == 200, let value = answer.json?["access_token"]?.stringValue else {
            throw ValidationError("the token endpoint answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
        }
        token.value = value
        token.obtained = ContinuousClock.now
        return value
    }

    func get(_ url: String, headers: [(String, String)] = []) async throws -> HTTPResponseData {
        try await send("GET", url, headers: headers)
    }

    func send(_ method: String, _ url: String, headers: [(String, String)] = []) async throws -> HTTPResponseData {
        let token = try await accessToken()
        return try await transport.send(
            HTTPRequestSpec(method: method, url: url, headers: headers + [("Authorization", "Bearer \(token)")]))
    }
}

/// `bedside-server serve` as a child process on a free loopback port, and its memory as /proc tells it.
final class ServerProcess {
    let process = Process()
    let port: Int
    let caFile: String
    let startKB: Int

    init(binary: String, dataDirectory: URL) throws {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--dev-tls", "--port", "0", "--data-dir", dataDirectory.path, "--log-level", "warning"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = ""
        var found: Int?
        let deadline = Date().addingTimeInterval(120)
        while found == nil, Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: #"127\.0\.0\.1:(\d+)/fhir"#, options: .regularExpression) {
                found = Int(seen[range].dropFirst("127.0.0.1:".count).prefix { $0.isNumber })
            }
        }
        guard let found else {
            process.terminate()
            throw ValidationError("bedside-server did not start: \(seen.prefix(500))")
        }
        port = found
        caFile = dataDirectory.appendingPathComponent("tls").appendingPathComponent("ca.pem").path
        startKB = Self.status("VmRSS", pid: process.processIdentifier) ?? 0
    }

    func withEMR<T>(_ emr: TestEMR, clientID: String, _ body: (BenchEMR) async throws -> T) async throws -> T {
        do {
            return try await body(BenchEMR(baseURL: "https://127.0.0.1:\(port)", emr: emr, clientID: clientID, caFile: caFile))
        } catch {
            _ = stop()
            throw error
        }
    }

    /// Stops the server (SIGTERM, then waits); returns its resident size at start and its peak.
    func stop() -> (startKB: Int, peakKB: Int) {
        let peak = Self.status("VmHWM", pid: process.processIdentifier) ?? 0
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return (startKB, peak)
    }

    static func status(_ field: String, pid: Int32) -> Int? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/status") else { return nil }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(field + ":") }
        return line.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
    }
}
