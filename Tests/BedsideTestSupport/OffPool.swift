import Foundation

/// Runs blocking work (waiting for a child process, polling, a blocking socket) on a thread of its own
/// and awaits its result.
///
/// Never block an async test, and never use `DispatchQueue.global()` for this: on Linux, Swift's
/// concurrency jobs and `DispatchQueue.global()` share libdispatch's one default-priority worker pool,
/// which starts with as many threads as cores and adds about one a second while its threads are
/// blocked. A dozen blocked waits queued there held every in-process test server's request handlers
/// back for 15–90 s (clients timed out: "The server did not answer in time"). A thread of its own
/// costs a millisecond and holds nobody up.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// `offPool` for work that cannot fail.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}

extension FileHandle {
    /// Writes `text` to a child's standard input; a child that already exited (a broken pipe) is not
    /// an error here (Foundation's non-throwing `write(_:)` traps on it).
    public func send(_ text: String) {
        try? write(contentsOf: Data(text.utf8))
    }
}
