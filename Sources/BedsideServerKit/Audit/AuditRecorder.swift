import Logging

/// Appends audit events for reads in small batches, off the request's path.
///
/// Writes of patient data put their audit line in the same transaction as the data (it commits or
/// fails with it). Reads change nothing, so a transaction each would only cost a disk flush per request;
/// they are gathered here and written within `flushInterval`.
public actor AuditRecorder {
    private let store: any ServerStore
    private let logger: Logger
    private let flushInterval: Duration
    private var pending: [AuditEvent] = []
    private var flushScheduled = false

    public init(store: any ServerStore, logger: Logger, flushInterval: Duration = .milliseconds(200)) {
        self.store = store
        self.logger = logger
        self.flushInterval = flushInterval
    }

    public func record(_ event: AuditEvent) {
        pending.append(event)
        if pending.count >= 512 {
            Task { await self.flush() }
        } else if !flushScheduled {
            flushScheduled = true
            let interval = flushInterval
            Task {
                try? await Task.sleep(for: interval)
                await self.flush()
            }
        }
    }

    /// Writes everything recorded so far.
    public func flush() async {
        flushScheduled = false
        guard !pending.isEmpty else { return }
        let batch = pending
        pending.removeAll()
        do {
            try await store.write { db in try db.append(batch) }
        } catch {
            // Put them back rather than lose them; the next flush tries again.
            pending.insert(contentsOf: batch, at: 0)
            logger.error("audit events could not be written", metadata: ["count": "\(batch.count)", "error": "\(error)"])
        }
    }
}
