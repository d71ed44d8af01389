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
    private let queue: DispatchQueue
    private let slots: Mutex<(running: Int, waiting: [CheckedContinuation<Bool, Never>])> = Mutex((0, []))

    init(label: String, workers: Int, queueLimit: Int) {
        self.workers = max(1, workers)
        self.queueLimit = max(0, queueLimit)
        queue = DispatchQueue(label: "bedside.\(label)", attributes: .concurrent)
    }

    /// Runs `work` when a worker is free; throws `Saturated` at once when the queue is full.
    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws(Saturated) -> T {
        try await acquire()
        defer { release() }
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }

    /// Takes a worker's slot, or a place in the queue (resumed by `release` with the slot handed over),
    /// or, when the queue is full, nothing.
    private func acquire() async throws(Saturated) {
        let admitted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let decision: Bool? = slots.withLock { state in
                if state.running < workers {
                    state.running += 1
                    return true
                }
                guard state.waiting.count < queueLimit else { return false }
                state.waiting.append(continuation)
                return nil
            }
            if let decision { continuation.resume(returning: decision) }
        }
        if !admitted { throw Saturated() }
    }

    /// Hands the slot to the next waiter, or frees it.
    private func release() {
        let next: CheckedContinuation<Bool, Never>? = slots.withLock { state in
            if state.waiting.isEmpty {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume(returning: true)
    }

    /// Work running and waiting now.
    var load: (running: Int, waiting: Int) { slots.withLock { ($0.running, $0.waiting.count) } }
}
