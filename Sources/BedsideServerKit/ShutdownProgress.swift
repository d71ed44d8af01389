import Logging
import Synchronization

/// What a stopping server is waiting for, named in the log while stopping takes long. A stop that
/// hangs (SIGTERM with no exit) then says where: the open HTTP connections, one of the background
/// loops, the Bulk Data worker, the audit trail, or the database's connections.
final class ShutdownProgress: Sendable {
    private let phase = Mutex<String>("open HTTP connections to finish")

    /// The next thing the stop waits for.
    func enter(_ what: String) {
        phase.withLock { $0 = what }
    }

    var current: String { phase.withLock { $0 } }
}

/// Runs `work`; every `interval` until it returns, calls `report` with the time waited so far. A wait
/// that hangs then says on what: a stopping server in its log, a test run on standard error.
public func reportingWhileSlow<T>(
    every interval: Duration, report: @escaping @Sendable (Duration) -> Void, _ work: () async throws -> T
) async rethrows -> T {
    let watchdog = Task {
        var waited = Duration.zero
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            waited += interval
            report(waited)
        }
    }
    defer { watchdog.cancel() }
    return try await work()
}

/// Runs `work`; every `interval` until it returns, logs a warning naming what it still waits for.
func warningWhileSlow<T>(
    _ what: @escaping @Sendable () -> String, logger: Logger, every interval: Duration = .seconds(10), _ work: () async throws -> T
) async rethrows -> T {
    try await reportingWhileSlow(
        every: interval,
        report: { waited in
            logger.warning("still stopping", metadata: ["waiting for": "\(what())", "seconds": "\(waited.components.seconds)"])
        }, work)
}

/// Waits for `task` to end, or `limit`, whichever comes first; true when the task ended. A task that
/// does not end is left running (it cannot be forced), and so is the small task that waits for it,
/// holding what the task holds; the caller goes on and says so.
func waitForEnd(of task: Task<Void, Never>, atMost limit: Duration) async -> Bool {
    let answer = FirstAnswer<Bool>()
    var timer: Task<Void, Never>?
    let ended = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        answer.waiting(continuation)
        Task {
            await task.value
            answer.give(true)
        }
        timer = Task {
            try? await Task.sleep(for: limit)
            answer.give(false)
        }
    }
    timer?.cancel()
    return ended
}

/// `task`'s value, or `fallback` as soon as the waiting task is cancelled: the task itself is not
/// cancelled and goes on to its own end (a question to the database that must not be cut off half-way).
func value<T: Sendable>(of task: Task<T, Never>, orWhenCancelled fallback: T) async -> T {
    let answer = FirstAnswer<T>()
    return await withTaskCancellationHandler {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            answer.waiting(continuation)
            Task { answer.give(await task.value) }
        }
    } onCancel: {
        answer.give(fallback)
    }
}

/// Resumes a continuation with the first answer given (kept until the continuation comes, if it comes
/// later); later answers are dropped.
private final class FirstAnswer<T: Sendable>: Sendable {
    private struct State {
        var waiter: CheckedContinuation<T, Never>?
        var given: T?
        var done = false
    }

    private let state = Mutex(State())

    func waiting(_ waiter: CheckedContinuation<T, Never>) {
        state.withLock { state in
            if let given = state.given, !state.done {
                state.done = true
                waiter.resume(returning: given)
            } else if !state.done {
                state.waiter = waiter
            }
        }
    }

    func give(_ answer: T) {
        state.withLock { state in
            guard !state.done else { return }
            if let waiter = state.waiter {
                state.done = true
                state.waiter = nil
                waiter.resume(returning: answer)
            } else if state.given == nil {
                state.given = answer
            }
        }
    }
}
