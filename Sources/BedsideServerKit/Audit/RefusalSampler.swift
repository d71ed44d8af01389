import BedsideCore
import Synchronization

/// Decides which refusals of callers nobody knows (an invented token, a path that does not exist) go
/// into the audit trail: the first of each kind per address a minute. Every one is still in the
/// request log; the trail gets the fact and who, without letting anyone fill the disk with it for the
/// price of a request.
final class RefusalSampler: Sendable {
    static let window: Int64 = 60_000
    static let capacity = 100_000
    private let lastRecorded = Mutex<[String: Int64]>([:])

    /// Whether this refusal should be recorded now.
    func shouldRecord(address: String?, action: String, at now: Int64) -> Bool {
        let key = "\(address ?? "-")|\(action)"
        return lastRecorded.withLock { seen in
            if let last = seen[key], now - last < Self.window, now >= last { return false }
            if seen.count >= Self.capacity { seen.removeAll(keepingCapacity: true) }
            seen[key] = now
            return true
        }
    }
}
