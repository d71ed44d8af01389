import Logging
import NIOCore
import PostgresNIO

/// Which scheduled jobs this instance runs, decided by PostgreSQL's session advisory locks: one lock
/// per job, taken with `pg_try_advisory_lock` on a connection of its own that this instance keeps
/// open. PostgreSQL releases a session's locks when the session ends, so when an instance dies (or its
/// connection is cut: TCP keepalive finds a dead peer within about a minute) its jobs are free, and the
/// next instance to ask takes them over. An instance that loses its connection loses its jobs with it
/// and asks again on a new one.
actor PostgresJobLeadership {
    /// The first half of each job's two-part lock key ("beds"); the second is the job's raw value.
    static let lockSpace: Int32 = 0x6265_6473

    private let connections: PostgresConnections
    private let logger: Logger
    private var connection: PostgresConnection?
    private var connecting: Task<PostgresConnection, any Error>?
    private var held: Set<ScheduledJob> = []
    private var closed = false

    init(connections: PostgresConnections, logger: Logger) {
        self.connections = connections
        self.logger = logger
    }

    /// Whether this instance holds `job`'s lock (taking it when free). False when the database cannot
    /// be asked: no instance runs a job it cannot be sure is its own.
    func leads(_ job: ScheduledJob) async -> Bool {
        guard !closed else { return false }
        // Asked in a task of its own, which the caller's cancellation (a stop, or the export worker giving
        // up its run) does not reach: the caller stops waiting at once, and the question ends by its own
        // deadline or the connection's close (`close()`), so the connection, and the locks it holds for
        // the other jobs, stay as they are. (postgres-nio's query does not end on cancellation anyway.)
        let asking = Task { await self.decide(job) }
        return await value(of: asking, orWhenCancelled: false)
    }

    private func decide(_ job: ScheduledJob) async -> Bool {
        guard !closed else { return false }
        do {
            let connection = try await liveConnection()
            let taken = try await ask(connection, "SELECT pg_try_advisory_lock($1, $2)", job)
            // Another job's call replaced the connection meanwhile: this answer was about a session
            // that is gone.
            guard connection === self.connection else { return false }
            // Each successful try counts once more; one unlock keeps the count at one, so a single
            // unlock (or the session's end) frees it.
            if taken, held.contains(job) { _ = try await ask(connection, "SELECT pg_advisory_unlock($1, $2)", job) }
            guard connection === self.connection else { return false }
            if taken, !held.contains(job) { logger.notice("this instance now runs a scheduled job", metadata: ["job": "\(job)"]) }
            if taken { held.insert(job) } else { held.remove(job) }
            return taken
        } catch {
            if !held.isEmpty { logger.warning("scheduled jobs given up: the database cannot be asked", metadata: ["error": "\(error)"]) }
            await drop()
            return false
        }
    }

    /// Ends the session, and with it every lock this instance holds.
    func close() async {
        closed = true
        await drop()
    }

    /// The connection, made once however many jobs ask at the same moment (an actor's methods interleave
    /// at each await: two connections made at once would leave one, with its locks, unclosed).
    private func liveConnection() async throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        if let connecting { return try await connecting.value }
        // A connection that closed took its locks with it. No await before `connecting` is set: a
        // second caller must find the connection under way, not start another.
        held = []
        let old = connection
        connection = nil
        let connections = connections
        let logger = logger
        let task = Task {
            try? await old?.close()
            return try await connections.dedicatedConnection(logger: logger)
        }
        connecting = task
        defer { connecting = nil }
        let made = try await task.value
        if closed {
            try? await made.close()
            throw CancellationError()
        }
        connection = made
        return made
    }

    private func drop() async {
        held = []
        let old = connection
        connection = nil
        try? await old?.close()
    }

    /// One statement, given the statement timeout plus two seconds; past that the connection is closed
    /// (a frozen network must not freeze the scheduler).
    private func ask(_ connection: PostgresConnection, _ sql: String, _ job: ScheduledJob) async throws -> Bool {
        var binds = PostgresBindings(capacity: 2)
        binds.append(Self.lockSpace)
        binds.append(job.rawValue)
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        let logger = logger
        let deadline = connections.statementTimeout + .seconds(2)
        return try await withThrowingTaskGroup(of: Bool?.self) { group in
            group.addTask {
                for try await row in try await connection.query(query, logger: logger) {
                    return try row.decode(Bool.self)
                }
                return false
            }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(deadline.nanoseconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let answer = first else {
                try? await connection.close()
                throw PostgresStoreError(code: .timedOut, message: "PostgreSQL did not answer a scheduling question in time")
            }
            return answer
        }
    }
}
