import ArgumentParser
import BedsideCore
import Foundation

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bedside-bench",
        abstract: "Benchmarks for Bedside. Each prints one JSON object and compares with a baseline measured in the same run.",
        discussion: "Build in release mode for meaningful numbers: swift run -c release bedside-bench server",
        version: BedsideVersion.current,
        subcommands: [ServerBench.self, ClientBench.self, SyncBench.self, KioskBench.self, AbuseBench.self, ExportBench.self])
}

/// Latency samples in milliseconds and their percentiles.
struct Samples {
    private(set) var values: [Double] = []

    mutating func add(_ milliseconds: Double) { values.append(milliseconds) }
    mutating func add(contentsOf other: Samples) { values.append(contentsOf: other.values) }

    func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[rank]
    }

    var json: JSONValue {
        [
            "count": .number(values.count),
            "p50": .number(round3(percentile(50))),
            "p99": .number(round3(percentile(99))),
            "max": .number(round3(values.max() ?? 0)),
        ]
    }
}

func round3(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

/// Milliseconds taken by `work`.
func measure<T>(_ work: () throws -> T) rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let result = try work()
    let elapsed = ContinuousClock.now - start
    return (result, Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
}

func measureAsync<T>(_ work: () async throws -> T) async rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let result = try await work()
    let elapsed = ContinuousClock.now - start
    return (result, Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
}

var buildConfiguration: String {
    #if DEBUG
        "debug"
    #else
        "release"
    #endif
}
