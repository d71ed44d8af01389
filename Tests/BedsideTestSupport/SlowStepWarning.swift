import BedsideServerKit
import Foundation

/// Runs `work`; every `interval` until it returns, prints to standard error that a test is still
/// waiting for `step`. A test run that hangs then says on what (CI's log shows only its end).
public func warningWhileSlow<T>(_ step: String, every interval: Duration = .seconds(30), _ work: () async throws -> T) async rethrows -> T {
    try await reportingWhileSlow(
        every: interval,
        report: { waited in
            FileHandle.standardError.write(Data("test support: still waiting for \(step) after \(waited.components.seconds) s\n".utf8))
        }, work)
}
