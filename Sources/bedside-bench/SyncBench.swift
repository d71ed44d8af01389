import ArgumentParser
import BedsideCore
import BedsideServerKit
import BedsideStore
import BedsideSync
import BedsideUI
import BedsideVault
import Foundation
import Logging

/// `bedside-bench sync`: the real sync engine pushing a queue of measurements from the encrypted store
/// to the real server over TLS on loopback, in transaction Bundles, against the same uploads made one
/// request per measurement; then a pull when nothing changed.
struct SyncBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Push a queue of measurements over TLS (batched vs one request each) and time a no-change pull.")

    @Option(help: "Queued measurements pushed in batches.")
    var measurements = 10_000

    @Option(help: "Measurements pushed one request each, as the baseline.")
    var baseline = 10_000

    @Option(help: "Entries per transaction Bundle.")
    var batchSize = 250

    struct Run {
        var report: SyncReport
        var milliseconds: Double
        var serverCount: Int

        func json(target: Double? = nil) -> JSONValue {
            var object: JSONObject = [
                "measurements": .number(report.sent),
                "seconds": .number(round3(milliseconds / 1000)),
                "perSecond": .number((Double(report.sent) / max(milliseconds / 1000, 0.000_001)).rounded()),
                "roundTrips": .number(report.roundTrips),
                "bytesSent": .number(report.bytesSent),
                "bytesReceived": .number(report.bytesReceived),
                "onServer": .number(serverCount),
            ]
            if let target { object["target"] = ["seconds": .number(target), "met": .bool(milliseconds / 1000 <= target)] }
            return .object(object)
        }
    }

    func run() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory() + "bedside-bench-sync-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var configuration = ServerConfiguration(dataDirectory: root.appendingPathComponent("server"))
        configuration.port = 0
        configuration.hasher = .testing
        configuration.withoutDefaultBudgets()  // one loopback address plays every patient
        configuration.authPolicy.touchInterval = 3_600_000
        let store = try configuration.openStore()
        // The server's clock is moved by hand past the pull's overlap minute, instead of waiting for it.
        let clock = ManualClock(epochMilliseconds: SystemClock().now())
        let administration = ServerAdministration(store: store, clock: clock, hasher: .testing)
        var patientIDs: [String] = []
        for name in ["batched", "baseline"] {
            let account = try await administration.addUser(
                email: "sync-\(name)@bench.bedside.test", role: .patient, password: "bench-password-\(name)-9", name: "Sync \(name)")
            if let id = account.patientID { patientIDs.append(id) }
        }
        let tokens = try await ServerBench.sessions(store: store, patientIDs: patientIDs, clock: clock)
        var logger = Logger(label: "bedside-bench.sync")
        logger.logLevel = .warning
        let running = try await BedsideServer(configuration: configuration, store: store, clock: clock, logger: logger).start()
        let api = BedsideAPI(
            server: "https://127.0.0.1:\(running.port)",
            transport: HTTPTransport(configuration: TransportConfiguration(caFile: configuration.tlsDirectory.appendingPathComponent("ca.pem").path)))

        func serverCount() throws -> Int {
            try store.readNow { db in try db.count(type: "Observation") }
        }

        func push(patient index: Int, count: Int, batchSize: Int) async throws -> (Run, SyncEngine) {
            let directory = root.appendingPathComponent("client-\(index)")
            try SecureFiles.makePrivateDirectory(directory)
            let (vault, _) = try KeyVault.create(password: "bench-password-x1", parameters: .testing)
            let local = try ClientStore(directory: directory, vault: vault)
            let now = clock.now()
            var ids = IDGenerator(seed: UInt64(index + 11))
            try local.addMany((0..<count).map { ClientBench.record($0, now: now, id: ids.uuid(), state: .pending) }, now: now)
            var engine = SyncEngine(api: api, store: local, token: tokens[index], clock: clock)
            engine.batchSize = batchSize
            let before = try serverCount()
            let (report, ms) = await measureAsync { await engine.push(patientID: patientIDs[index]) }
            if let error = report.error { throw ValidationError("push failed: \(error)") }
            return (Run(report: report, milliseconds: ms, serverCount: try serverCount() - before), engine)
        }

        let (batched, engine) = try await push(patient: 0, count: measurements, batchSize: batchSize)
        let (oneEach, _) = try await push(patient: 1, count: baseline, batchSize: 1)

        // A first pull brings the cursor up to date (it brings the 10,000 back: the server has them now);
        // a minute later, when nothing changed, the pull that is measured.
        clock.advance(milliseconds: 61_000)
        _ = await engine.pull(patientID: patientIDs[0])
        var pulls = Samples()
        var noChange = SyncReport()
        for _ in 0..<20 {
            let (report, ms) = await measureAsync { await engine.pull(patientID: patientIDs[0]) }
            if let error = report.error { throw ValidationError("pull failed: \(error)") }
            pulls.add(ms)
            noChange = report
        }

        await running.stop()
        try store.close()

        let result: JSONValue = [
            "benchmark": "sync",
            "build": .string(buildConfiguration),
            "cores": .number(ProcessInfo.processInfo.activeProcessorCount),
            "transport": "libcurl, TLS on loopback, the dev CA verified",
            "batchSize": .number(batchSize),
            "batched": batched.json(target: 3),
            "baselineOneRequestEach": oneEach.json(),
            "speedupOverBaseline": .number(round3(
                (Double(batched.report.sent) / max(batched.milliseconds, 0.001)) / (Double(oneEach.report.sent) / max(oneEach.milliseconds, 0.001)))),
            "noChangePull": [
                "roundTrips": .number(noChange.roundTrips),
                "bytesSent": .number(noChange.bytesSent),
                "bytesReceived": .number(noChange.bytesReceived),
                "received": .number(noChange.received),
                "ms": pulls.json,
                "target": ["roundTrips": 1, "met": .bool(noChange.roundTrips == 1)],
            ],
        ]
        print(result.serializedString())
    }
}
