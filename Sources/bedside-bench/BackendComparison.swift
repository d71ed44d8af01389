import ArgumentParser
import BedsideCore
@_spi(Benchmarks) import BedsideServerKit
import BedsideSync
import Foundation

/// `bedside-bench server --database URL`: SQLite and PostgreSQL side by side in one run, each behind
/// real `bedside-server serve` processes on this machine. For each: the ward (a nurse, patients in her
/// care team, 5,000 open alerts) and a store of Observations over 90 days; ingest from TLS clients in
/// transaction Bundles, to one instance and (PostgreSQL) to two; the CPU the server processes, and
/// PostgreSQL's own processes, spent per 1,000 Observations; a patient's 90-day search; and the kiosk's
/// queue (its full load and its refresh after other nurses' changes).
struct BackendComparison {
    var databaseURL: String
    var serverBinary: String
    var patients: Int
    var observations: Int
    var alerts: Int
    var clients: Int
    var bundleSize: Int
    var ingest: Int
    var searches: Int
    var refreshes: Int
    var skipSQLite = false

    func run() async throws -> JSONValue {
        let sqlite = skipSQLite ? nil : try await measure(database: nil)
        let postgres = try await measure(database: databaseURL)
        var comparison: JSONValue = "not measured: --skip-sqlite"
        if let sqlite {
            let cpuRatio = postgres.ingestOne.cpuPerThousand / max(sqlite.ingestOne.cpuPerThousand, 0.000_001)
            comparison = [
                "cpuPerObservationPostgresToSQLite": .number(round3(cpuRatio)),
                "target": ["atMost": 2, "met": .bool(cpuRatio <= 2)],
                "throughputPostgresToSQLite": .number(round3(postgres.ingestOne.perSecond / max(sqlite.ingestOne.perSecond, 0.001))),
            ]
        }
        return [
            "benchmark": "server-backends",
            "build": .string(buildConfiguration),
            "cores": .number(ProcessInfo.processInfo.activeProcessorCount),
            "sqlite": sqlite?.json ?? "not measured: --skip-sqlite",
            "postgresql": postgres.json,
            "comparison": comparison,
        ]
    }

    // MARK: One backend

    struct Ingest {
        var instances: Int
        var observations: Int
        var seconds: Double
        var bundleLatency: Samples
        /// CPU seconds of the `bedside-server` processes, and of PostgreSQL's (0 for SQLite: in-process).
        var serverCPU: Double
        var databaseCPU: Double
        /// How long the instances (and PostgreSQL) took to fall quiet after their start-up jobs (the
        /// overdue check over every patient, the change feed's pruning) before this was measured.
        var settledAfter: Double = 0

        var perSecond: Double { Double(observations) / max(seconds, 0.001) }
        var cpuPerThousand: Double { (serverCPU + databaseCPU) * 1000 / Double(max(observations, 1)) }

        var json: JSONValue {
            [
                "instances": .number(instances),
                "observations": .number(observations),
                "seconds": .number(round3(seconds)),
                "observationsPerSecond": .number(perSecond.rounded()),
                "bundleLatencyMs": bundleLatency.json,
                "serverCPUSeconds": .number(round3(serverCPU)),
                "databaseCPUSeconds": .number(round3(databaseCPU)),
                "cpuSecondsPer1000Observations": .number(round3(cpuPerThousand)),
                "quietAfterStartSeconds": .number(round3(settledAfter)),
            ]
        }
    }

    struct Result {
        var backend: String
        var storedObservations: Int
        var fillSeconds: Double
        var settleSeconds: Double
        var openAlerts: Int
        var ingestOne: Ingest
        var ingestTwo: Ingest?
        var search: ServerBench.SearchResult
        var kioskFullLoad: Samples
        var kioskRefresh: Samples

        var json: JSONValue {
            [
                "backend": .string(backend),
                "storedObservations": .number(storedObservations),
                "fillSeconds": .number(round3(fillSeconds)),
                "settleAfterFillSeconds": .number(round3(settleSeconds)),
                "ingestOneInstance": ingestOne.json,
                "ingestTwoInstances": ingestTwo?.json ?? "not applicable: SQLite is one process",
                "search90Days": [
                    "query": "Observation?patient=<id>&date=ge<90 days ago>&_count=100",
                    "firstPageMs": search.firstPage.json,
                    "baselineMetadataMs": search.baseline.json,
                    "target": ["p99Ms": 20, "met": .bool(search.firstPage.percentile(99) <= 20)],
                ],
                "kiosk": [
                    "openAlerts": .number(openAlerts),
                    "fullLoadMs": kioskFullLoad.json,
                    "fullLoadQuery": "Flag?status=active&_count=1000&_include=Flag:patient, every page",
                    "refreshMs": kioskRefresh.json,
                    "refreshQuery": "Flag?_lastUpdated=ge<last refresh>&_sort=_lastUpdated&_count=1000, after 3 Flags changed",
                    "target": ["refreshP99Ms": 50, "met": .bool(kioskRefresh.percentile(99) <= 50)],
                ],
            ]
        }
    }

    private func measure(database: String?) async throws -> Result {
        let root = URL(fileURLWithPath: NSTemporaryDirectory() + "bedside-bench-backends-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let keyPath = root.appendingPathComponent("master.key").path
        var configuration = ServerConfiguration(dataDirectory: root.appendingPathComponent("a"))
        configuration.masterKeyPath = keyPath
        configuration.hasher = .testing
        if let database { configuration.database = try PostgresLocation(url: database) }
        let store = try await configuration.openServerStore()
        defer { try? store.close() }
        let clock = SystemClock()
        let administration = ServerAdministration(store: store, clock: clock, hasher: .testing)

        // 1. The ward and the stored Observations (filled directly, timed but not a target).
        let ((ward, stored), fillMS) = try await measureAsync {
            let ward = try await KioskBench.ward(
                store: store, administration: administration, clock: clock, patients: patients, alerts: alerts, history: 0)
            _ = try await ServerBench.ensureData(store: store, administration: administration, patients: patients, observations: observations)
            let count: @Sendable (any StoreReading) throws -> Int = { db in try db.count(type: "Observation") }
            if let postgres = store as? PostgresServerStore { return (ward, try await postgres.readWithoutDeadline(count)) }
            return (ward, try await store.read(count))
        }
        // As after any bulk load, before anything is timed: the change feed the load made pruned (as
        // each instance does at its start), statistics and dead rows settled, and what the load wrote
        // on disk. In a 10,000,000-Observation run without that, the instances' pruning, PostgreSQL's
        // checkpoints (every 20 s) and the operating system's write-back went on through the searches,
        // and both backends' search p99 was 50-68 ms (p50 8-19 ms).
        let (_, settleMS) = try await measureAsync {
            try await SubscriptionDispatcher(store: store, clock: clock, settings: configuration.subscriptions, baseURL: "").pruneFeed()
            if let postgres = store as? PostgresServerStore { try await postgres.analyzeAfterBulkLoad() } else { try await store.removeDeletedData() }
            await Self.flushFileSystems()
        }
        let tokens = try await ServerBench.sessions(store: store, patientIDs: ward.patientIDs, clock: clock)
        let nurseToken = try await Self.session(store: store, email: KioskBench.nurseEmail, clock: clock)

        // 2. The instances: real processes, B trusting A's development CA (one CA file for the clients).
        var arguments = ["--master-key-file", keyPath]
        if let database { arguments += ["--database", database] }
        let a = try ServedInstance(binary: serverBinary, dataDirectory: root.appendingPathComponent("a"), arguments: arguments)
        defer { a.stop() }
        let transport = TransportConfiguration(caFile: root.appendingPathComponent("a/tls/ca.pem").path)

        let ingestOne = try await measureIngest(into: [a], observing: database != nil, patientIDs: ward.patientIDs, tokens: tokens, transport: transport)
        var ingestTwo: Ingest?
        if database != nil {
            let tls = root.appendingPathComponent("b/tls")
            try FileManager.default.createDirectory(at: tls, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            for name in ["ca.pem", "ca.key"] {
                try FileManager.default.copyItem(at: root.appendingPathComponent("a/tls/\(name)"), to: tls.appendingPathComponent(name))
            }
            let b = try ServedInstance(binary: serverBinary, dataDirectory: root.appendingPathComponent("b"), arguments: arguments)
            defer { b.stop() }
            ingestTwo = try await measureIngest(into: [a, b], observing: true, patientIDs: ward.patientIDs, tokens: tokens, transport: transport)
        }

        // 3. A patient's 90 days, and the kiosk's queue.
        let search = try await ServerBench.searchLatency(
            base: a.base, transport: transport, patientIDs: ward.patientIDs, tokens: tokens, searches: searches)
        let (fullLoad, refresh) = try await kiosk(
            base: a.base, transport: transport, token: nurseToken, flagIDs: ward.flagIDs, store: store, clock: clock)
        return Result(
            backend: database == nil ? "sqlite" : "postgresql", storedObservations: stored, fillSeconds: fillMS / 1000,
            settleSeconds: settleMS / 1000,
            openAlerts: ward.flagIDs.count, ingestOne: ingestOne, ingestTwo: ingestTwo, search: search, kioskFullLoad: fullLoad,
            kioskRefresh: refresh)
    }

    private func measureIngest(
        into instances: [ServedInstance], observing database: Bool, patientIDs: [String], tokens: [String], transport: TransportConfiguration
    ) async throws -> Ingest {
        // Measured once the instances' start-up jobs are done: what is timed is ingest, not them.
        let settled = try await Self.quiet(instances: instances, database: database)
        let serverBefore = instances.map { ProcessCPU.seconds(pid: $0.pid) }.reduce(0, +)
        let databaseBefore = database ? ProcessCPU.seconds(command: "postgres") : 0
        let result = try await ServerBench.ingest(
            bases: instances.map(\.base), transport: transport, patientIDs: patientIDs, tokens: tokens, clients: clients,
            bundleSize: bundleSize, total: ingest)
        let serverAfter = instances.map { ProcessCPU.seconds(pid: $0.pid) }.reduce(0, +)
        let databaseAfter = database ? ProcessCPU.seconds(command: "postgres") : 0
        return Ingest(
            instances: instances.count, observations: result.observations, seconds: result.milliseconds / 1000, bundleLatency: result.latency,
            serverCPU: serverAfter - serverBefore, databaseCPU: databaseAfter - databaseBefore, settledAfter: settled)
    }

    /// Everything written so far on disk (`sync`), on a thread of its own: after gigabytes of writes
    /// this takes a while, and nothing timed may run beside it.
    private static func flushFileSystems() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                sync()
                done.resume()
            }
        }
    }

    /// Waits (at most 10 minutes) until the instances and PostgreSQL use under a twentieth of a core
    /// for a whole second; how long that took.
    private static func quiet(instances: [ServedInstance], database: Bool) async throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        func used() -> Double {
            instances.map { ProcessCPU.seconds(pid: $0.pid) }.reduce(0, +) + (database ? ProcessCPU.seconds(command: "postgres") : 0)
        }
        var last = used()
        while clock.now - start < .seconds(600) {
            try await Task.sleep(for: .seconds(1))
            let now = used()
            defer { last = now }
            if now - last < 0.05 { break }
        }
        let elapsed = (clock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    /// The queue as the kiosk asks for it: the full load (every page of the open alerts, with their
    /// patients), and the refresh after other nurses changed three Flags.
    private func kiosk(
        base: String, transport configuration: TransportConfiguration, token: String, flagIDs: [String], store: any ServerStore,
        clock: any WallClock
    ) async throws -> (fullLoad: Samples, refresh: Samples) {
        let transport = HTTPTransport(configuration: configuration)
        defer { transport.closeConnections() }
        func get(_ url: String) async throws -> JSONValue? {
            let response = try await transport.send(HTTPRequestSpec(method: "GET", url: url, headers: [("Authorization", "Bearer \(token)")]))
            guard response.status == 200 else { throw ValidationError("the kiosk's search answered \(response.status)") }
            return response.json
        }
        var fullLoad = Samples()
        for _ in 0..<max(3, refreshes / 10) {
            var next: String? = base + "/fhir/Flag?status=active&_count=1000&_include=Flag:patient"
            let (_, ms) = try await measureAsync {
                while let url = next {
                    next = try await get(url)?["link"]?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue
                }
            }
            fullLoad.add(ms)
        }
        var refresh = Samples()
        for round in 0..<refreshes {
            let since = FHIRDateTime.format(epochMilliseconds: clock.now())
            try await KioskBench.noteOnFlags(flagIDs, round: round, count: 3, store: store, clock: clock)
            let (_, ms) = try await measureAsync {
                _ = try await get(base + "/fhir/Flag?_lastUpdated=ge\(since)&_sort=_lastUpdated&_count=1000")
            }
            refresh.add(ms)
        }
        return (fullLoad, refresh)
    }

    /// A session for an account by e-mail, made directly (logins are not what is measured).
    static func session(store: any ServerStore, email: String, clock: any WallClock) async throws -> String {
        try await store.write { db in
            guard let account = try db.account(email: email) else { throw ValidationError("no account \(email)") }
            let token = Secrets.randomToken()
            try db.insert(SessionRecord(
                tokenHash: Secrets.sha256Hex(token), accountID: account.id, createdAt: clock.now(), lastSeenAt: clock.now(), revokedAt: nil))
            return token
        }
    }
}

/// A `bedside-server serve` process on a free loopback port, with development TLS.
final class ServedInstance: Sendable {
    let process: Process
    let base: String
    var pid: Int32 { process.processIdentifier }

    init(binary: String, dataDirectory: URL, arguments: [String]) throws {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let output = dataDirectory.appendingPathComponent("serve.out")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        // One loopback address plays every patient: the per-address budget for unknown callers is off.
        process.arguments = [
            "serve", "--dev-tls", "--port", "0", "--data-dir", dataDirectory.path, "--log-level", "error", "--unknown-caller-limit", "0",
        ] + arguments
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            let seen = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let range = seen.range(of: #"127\.0\.0\.1:(\d+)/fhir"#, options: .regularExpression),
                let port = Int(seen[range].dropFirst("127.0.0.1:".count).prefix { $0.isNumber })
            {
                base = "https://127.0.0.1:\(port)"
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()
        throw ValidationError("bedside-server serve did not start: \((try? String(contentsOf: output, encoding: .utf8)) ?? "")")
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

/// CPU time (user + system) of processes on this machine, from `/proc`.
enum ProcessCPU {
    private static let ticksPerSecond = Double(max(sysconf(Int32(_SC_CLK_TCK)), 1))

    /// One process.
    static func seconds(pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return 0 }
        return seconds(stat: stat)
    }

    /// Every process whose command is `command` (PostgreSQL's postmaster and backends are `postgres`).
    static func seconds(command: String) -> Double {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { $0.allSatisfy(\.isNumber) }.reduce(0) { total, pid in
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            guard comm == command, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return total }
            return total + seconds(stat: stat)
        }
    }

    /// Fields 14 to 17 of `stat` (utime, stime, and those of its children that ended: a PostgreSQL
    /// backend that exits meanwhile is counted in the postmaster's), after the command's parenthesis.
    private static func seconds(stat: String) -> Double {
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 14 else { return 0 }
        return fields[11...14].compactMap { Double($0) }.reduce(0, +) / ticksPerSecond
    }
}
