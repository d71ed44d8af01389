import BedsideCore
import BedsideServerKit
import BedsideSync
import Foundation
import Logging

/// What encryption at rest costs: the same store, server, ingest and search with resource bodies
/// sealed and in clear, side by side in one run, so the ratio holds on a noisy machine.
struct EncryptionCost {
    var patients: Int
    var observations: Int
    var ingest: Int
    var searches: Int
    var rounds = 3

    /// One server over a store of its own, sealed or in clear.
    final class Variant {
        let name: String
        let directory: URL
        let store: SQLiteServerStore
        let running: RunningServer
        let patientIDs: [String]
        let tokens: [String]
        let transport: TransportConfiguration
        let loadMS: Double
        var ingest: [ServerBench.IngestResult] = []
        var searches: [ServerBench.SearchResult] = []

        init(name: String, plaintext: Bool, patients: Int, observations: Int) async throws {
            self.name = name
            directory = URL(fileURLWithPath: NSTemporaryDirectory() + "bedside-bench-encryption-\(name)-\(UUID().uuidString)")
            var configuration = ServerConfiguration(dataDirectory: directory)
            configuration.port = 0
            configuration.hasher = .testing
            configuration.withoutDefaultBudgets()
            configuration.authPolicy.touchInterval = 3_600_000
            configuration.storesPlaintextForBenchmark = plaintext
            store = try configuration.openStore()
            let clock = SystemClock()
            let administration = ServerAdministration(store: store, clock: clock, hasher: .testing)
            let store = store
            (patientIDs, loadMS) = try await measureAsync {
                try await ServerBench.ensureData(store: store, administration: administration, patients: patients, observations: observations)
            }
            var logger = Logger(label: "bedside-bench.encryption")
            logger.logLevel = .warning
            running = try await BedsideServer(configuration: configuration, store: store, clock: clock, logger: logger).start()
            tokens = try await ServerBench.sessions(store: store, patientIDs: patientIDs, clock: clock)
            transport = TransportConfiguration(caFile: directory.appendingPathComponent("tls/ca.pem").path)
        }

        var base: String { "https://127.0.0.1:\(running.port)" }

        func finish() async {
            await running.stop()
            try? store.close()
            try? FileManager.default.removeItem(at: directory)
        }

        /// The best round: the least disturbed by whatever else the machine did.
        var bestPerSecond: Double { ingest.map(\.perSecond).max() ?? 0 }
        var bestSearchP50: Double { searches.map { $0.firstPage.percentile(50) }.min() ?? 0 }
        var bestSearchP99: Double { searches.map { $0.firstPage.percentile(99) }.min() ?? 0 }
    }

    func run() async throws -> JSONValue {
        let plain = try await Variant(name: "plaintext", plaintext: true, patients: patients, observations: observations)
        let sealed = try await Variant(name: "sealed", plaintext: false, patients: patients, observations: observations)
        // Alternating rounds, so a slow moment of the machine falls on both.
        for _ in 0..<rounds {
            for variant in [plain, sealed] {
                variant.ingest.append(try await ServerBench.ingest(
                    bases: [variant.base], transport: variant.transport, patientIDs: variant.patientIDs, tokens: variant.tokens, clients: 4,
                    bundleSize: 100, total: ingest))
                variant.searches.append(try await ServerBench.searchLatency(
                    base: variant.base, transport: variant.transport, patientIDs: variant.patientIDs, tokens: variant.tokens,
                    searches: searches))
            }
        }
        await plain.finish()
        await sealed.finish()
        func summary(_ variant: Variant) -> JSONValue {
            [
                "loadSeconds": .number(round3(variant.loadMS / 1000)),
                "ingestObservationsPerSecond": .number(variant.bestPerSecond.rounded()),
                "searchFirstPageP50Ms": .number(round3(variant.bestSearchP50)),
                "searchFirstPageP99Ms": .number(round3(variant.bestSearchP99)),
            ]
        }
        let ingestRatio = plain.bestPerSecond / max(sealed.bestPerSecond, 0.001)
        let searchRatio = sealed.bestSearchP50 / max(plain.bestSearchP50, 0.001)
        return [
            "storedObservations": .number(observations),
            "patients": .number(patients),
            "rounds": .number(rounds),
            "plaintext": summary(plain),
            "sealed": summary(sealed),
            "ingestTimeRatio": .number(round3(ingestRatio)),
            "searchP50Ratio": .number(round3(searchRatio)),
            "searchP99Ratio": .number(round3(sealed.bestSearchP99 / max(plain.bestSearchP99, 0.001))),
            "loadTimeRatio": .number(round3(sealed.loadMS / max(plain.loadMS, 0.001))),
            "target": ["ratio": 1.3, "met": .bool(ingestRatio <= 1.3 && searchRatio <= 1.3)],
        ]
    }
}
