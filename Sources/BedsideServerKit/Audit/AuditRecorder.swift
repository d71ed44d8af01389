import Logging

/// Writes audit events for reads (and refusals) before their answer leaves, in group commits.
///
/// Writes of patient data put their audit line in the same transaction as the data (it commits or
/// fails with it). A read's line has no transaction of its own to ride in; it used to wait in memory for
/// a timer, and a crash lost what had been shown to whom. Now every caller waits until its line is on
/// disk, and the lines that arrive while one write is under way go together in the next: under load
/// one disk flush carries many requests, and no answer is sent whose audit line could still be lost.
public actor AuditRecorder {
    private let store: any ServerStore
    private let logger: Logger
    private var pending: [AuditEvent] = []
    private var waiters: [CheckedContinuation<Bool, Never>] = []
    private var writing = false

    public init(store: any ServerStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Returns once `event` is written: true, or false when the write failed (logged): an access that
    /// cannot be recorded is not to be answered.
    @discardableResult
    public func record(_ event: AuditEvent) async -> Bool {
        await record([event])
    }

    @discardableResult
    public func record(_ events: [AuditEvent]) async -> Bool {
        guard !events.isEmpty else { return true }
        pending.append(contentsOf: events)
        return await withCheckedContinuation { continuation in
            waiters.append(continuation)
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty || !waiters.isEmpty {
            let batch = pending
            let released = waiters
            pending.removeAll()
            waiters.removeAll()
            var written = true
            do {
                if !batch.isEmpty { try await store.write { db in try db.append(batch) } }
            } catch {
                written = false
                logger.critical("audit events could not be written", metadata: ["count": "\(batch.count)", "error": "\(error)"])
            }
            for waiter in released { waiter.resume(returning: written) }
        }
        writing = false
    }

    /// Returns once everything recorded so far is written (lines are written as they come; this only waits).
    public func flush() async {
        guard writing else { return }
        _ = await withCheckedContinuation { continuation in waiters.append(continuation) }
    }
}
