import BedsideCore
import Foundation
import Logging

/// The store in PostgreSQL (`--database postgresql://…`): what makes several instances one server
/// lives here, in one database they share.
///
/// Writes take one transaction-scoped advisory lock first, so they happen one at a time across every
/// instance, as SQLite's writes do in one file: the checks a write makes before it changes anything
/// (a conditional create's identifier, If-Match's version, one open Flag per rule, a login throttle's
/// count, the audit chain's last link) see every write committed before it and none in flight. Reads
/// run in parallel, each in one snapshot. Sealing is the same as SQLite's: bodies and personal fields
/// under the data key, which the database holds wrapped by the master key.
public final class PostgresServerStore: ServerStore {
    let connections: PostgresConnections
    public let keys: StoreKeys
    private let leadership: PostgresJobLeadership
    private let logger: Logger

    /// The advisory lock every write takes ("bedside" and 2).
    static let writeLockKey: Int64 = 0x6265_6473_6964_6502

    /// Connects, brings the schema up to date (several instances may start at once) and unwraps the data
    /// key (made and stored when the database has none; a wrong master key changes nothing).
    public init(location: PostgresLocation, encryption: StoreEncryption, maximumConnections: Int = 16) async throws {
        connections = try PostgresConnections(location: location, maximumConnections: maximumConnections)
        leadership = PostgresJobLeadership(connections: connections, logger: Logger(label: "bedside-server.jobs"))
        logger = Logger(label: "bedside-server.postgres")
        do {
            // Any other encoding cannot hold every patient's name: a fault of the deployment, said at start,
            // not a 500 (or a 400 blaming the client) on the first request with such a name.
            let encoding = try await connections.transaction(readOnly: true) { sql in
                try sql.rows("SHOW server_encoding").first.map { try PostgresSQL.decode($0[0], as: String.self, sql: "SHOW server_encoding") }
            }
            guard encoding == "UTF8" else {
                throw PostgresStoreError(
                    code: .refused,
                    message: "The database \(location.database) is encoded \(encoding ?? "unknown"); bedside-server needs UTF8. "
                        + "Make it with CREATE DATABASE \(location.database) ENCODING 'UTF8' TEMPLATE template0.")
            }
            try await PostgresMigrator.migrate(connections, PostgresSchema.migrations, now: Int64(Date().timeIntervalSince1970 * 1000))
            let stored = try await connections.transaction(readOnly: true) { sql in try Self.storedDataKey(sql) }
            let opened = try DataKeyRecord.keys(stored: stored, encryption: encryption)
            if let newWrap = opened.newWrap {
                // Two instances may have made a data key for the same new database at once: the stored one wins.
                let winner = try await connections.transaction(readOnly: false) { sql in
                    try sql.execute(
                        "INSERT INTO data_key (id, wrapped, master_fingerprint, created_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
                        [.bytes(Array(newWrap.wrapped)), .text(newWrap.masterFingerprint), .integer(newWrap.createdAt)])
                    return try Self.storedDataKey(sql)
                }
                keys = try DataKeyRecord.keys(stored: winner, encryption: encryption).keys
            } else {
                keys = opened.keys
            }
        } catch {
            await connections.shutdown()
            throw error
        }
    }

    private static func storedDataKey(_ sql: PostgresSQL) throws -> DataKeyRecord? {
        guard let row = try sql.rows("SELECT wrapped, master_fingerprint, created_at FROM data_key WHERE id = 1").first else { return nil }
        return DataKeyRecord(wrapped: Data(try row.bytes("wrapped")), masterFingerprint: try row.text("master_fingerprint"), createdAt: try row.int64("created_at"))
    }

    public func read<T: Sendable>(_ work: @escaping @Sendable (any StoreReading) throws -> T) async throws -> T {
        let keys = keys
        return try await connections.transaction(readOnly: true) { sql in try work(PostgresStoreSession(sql: sql, keys: keys)) }
    }

    public func write<T: Sendable>(_ work: @escaping @Sendable (any StoreWriting) throws -> T) async throws -> T {
        let keys = keys
        return try await connections.transaction(readOnly: false) { sql in
            try sql.execute("SELECT pg_advisory_xact_lock($1)", [.integer(Self.writeLockKey)])
            let session = PostgresStoreSession(sql: sql, keys: keys)
            let result = try work(session)
            try session.flush()
            return result
        }
    }

    public func close() throws {
        let leadership = leadership
        Task { await leadership.close() }
        connections.close()
    }

    /// What an operator does after a bulk load, for the benchmark: the tables' statistics brought up to
    /// date, their dead rows cleared and the result written out now, so that neither autovacuum nor the
    /// checkpointer does it while a figure is taken.
    @_spi(Benchmarks) public func analyzeAfterBulkLoad() async throws {
        try await withoutDeadline { sql in
            for table in ["resource", "resource_code", "resource_category", "resource_identifier", "resource_change", "audit_event"] {
                try sql.execute("VACUUM (ANALYZE) \(table)")
            }
            // The pages the load and VACUUM dirtied written now, not by the checkpointer while something
            // is timed. (Needs a superuser or pg_checkpoint; without, the checkpointer does it later.)
            _ = try? sql.execute("CHECKPOINT")
        }
    }

    /// A read for the benchmark's bookkeeping on a large store (counting 10,000,000 rows on a busy
    /// machine took longer than a request's deadline): its statements run as long as they take.
    @_spi(Benchmarks) public func readWithoutDeadline<T: Sendable>(_ work: @escaping @Sendable (any StoreReading) throws -> T) async throws -> T {
        let keys = keys
        return try await withoutDeadline { sql in
            try sql.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            defer { _ = try? sql.execute("COMMIT") }
            return try work(PostgresStoreSession(sql: sql, keys: keys))
        }
    }

    /// `work` on a leased connection with no statement deadline, neither PostgreSQL's nor ours (up to
    /// two hours); the connection's own deadline is back before it returns to the pool.
    private func withoutDeadline<T: Sendable>(_ work: @escaping @Sendable (PostgresSQL) throws -> T) async throws -> T {
        try await connections.withConnection { leased in
            let sql = leased.withTimeout(.hours(2))
            try sql.execute("SET statement_timeout = 0")
            defer { _ = try? sql.execute("RESET statement_timeout") }
            return try work(sql)
        }
    }

    /// Closes the store and waits until its connections are closed (the scheduled jobs' locks free).
    public func shutdown() async {
        let progress = ShutdownProgress()
        await warningWhileSlow({ progress.current }, logger: logger) {
            progress.enter("the scheduled jobs' PostgreSQL session to end")
            await leadership.close()
            progress.enter("the PostgreSQL connections to close")
            await connections.shutdown()
        }
    }

    public func leads(_ job: ScheduledJob) async -> Bool {
        await leadership.leads(job)
    }

    /// PostgreSQL keeps a deleted row's bytes until VACUUM reuses its space (and the disk until it is
    /// overwritten): a plain VACUUM of the tables an erasure touches makes that space reusable now. What
    /// stays meanwhile is sealed (bodies, names, e-mail addresses) or a pseudonymous id.
    @discardableResult
    public func removeDeletedData() async throws -> DeletedDataRemoval {
        try await connections.withConnection { sql in
            for table in ["resource", "resource_history", "resource_code", "resource_category", "resource_identifier", "resource_change",
                "account", "session", "login_challenge", "enrolment", "care_team_member", "care_end", "login_throttle"]
            {
                try sql.execute("VACUUM \(table)")
            }
        }
        return .spaceReusable
    }
}
