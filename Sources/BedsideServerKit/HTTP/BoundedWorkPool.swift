import Dispatch
import Synchronization

/// Runs expensive work (password hashing: scrypt, 128 MiB and a quarter of a second each; reading a
/// large body: parsing and checking up to a megabyte of JSON) on a few threads of its own, with a short
/// queue in front of them.
///
/// Done on Swift's cooperative pool, which has a thread per core, a burst of such requests (logins for
/// invented addresses, megabyte uploads) would take every thread the server answers requests on, and
/// everyone's search would wait behind them. Here at most `workers` run at once, at most `queueLimit`
/// wait, and beyond that the request is refused at once (503 with Retry-After) instead of waiting
/// without bound.
final class BoundedWorkPool: Sendable {
    struct Saturated: Error {}

    let workers: Int
    let queueLimit: Int
    /// How much of the pool (running and waiting) one caller may hold, so one cannot crowd out the rest.
    let perCallerLimit: Int
    private let queue: DispatchQueue
    private struct Slots {
        var running = 0
        var waiting: [CheckedContinuation<Bool, Never>] = []
        var byCaller: [String: Int] = [:]
    }

    private let slots = Mutex(Slots())

    init(label: String, workers: Int, queueLimit: Int, perCallerLimit: Int = .max) {
        self.workers = max(1, workers)
        self.queueLimit = max(0, queueLimit)
        self.perCallerLimit = max(1, perCallerLimit)
        queue = DispatchQueue(label: "bedside.\(label)", attributes: .concurrent)
    }

    /// Runs `work` when a worker is free; throws `Saturated` at once when the queue is full, or when
    /// `caller` already holds its share.
    func run<T: Sendable>(caller: String? = nil, _ work: @escaping @Sendable () -> T) async throws(Saturated) -> T {
        try await acquire(caller: caller)
        defer { release(caller: caller) }
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }

    /// Takes a worker's slot, or a place in the queue (resumed by `release` with the slot handed over),
    /// or, when the queue is full, nothing.
    private func acquire(caller: String?) async throws(Saturated) {
        let limit = perCallerLimit
        let admitted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let decision: Bool? = slots.withLock { state in
                if let caller {
                    guard state.byCaller[caller, default: 0] < limit else { return false }
                }
                if state.running < workers {
                    if let caller { state.byCaller[caller, default: 0] += 1 }
                    state.running += 1
                    return true
                }
                guard state.waiting.count < queueLimit else { return false }
                if let caller { state.byCaller[caller, default: 0] += 1 }
                state.waiting.append(continuation)
                return nil
            }
            if let decision { continuation.resume(returning: decision) }
        }
        if !admitted { throw Saturated() }
    }

    /// Hands the slot to the next waiter, or frees it.
    private func release(caller: String?) {
        let next: CheckedContinuation<Bool, Never>? = slots.withLock { state in
            if let caller {
                let left = state.byCaller[caller, default: 1] - 1
                state.byCaller[caller] = left > 0 ? left : nil
            }
            if state.waiting.isEmpty {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume(returning: true)
    }
}
