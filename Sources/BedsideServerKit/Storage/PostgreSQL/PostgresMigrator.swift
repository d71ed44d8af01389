import Foundation

/// One step of a PostgreSQL schema: statements that run together, in one transaction.
public struct PostgresMigration: Sendable {
    public let version: Int
    public let name: String
    public let statements: [String]

    public init(version: Int, name: String, statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// Brings a database's schema up to date when an instance starts.
///
/// Several instances may start at once: each takes the same transaction-scoped advisory lock first, so
/// one applies what is missing and the others, after it commits, find nothing left to do. PostgreSQL's
/// DDL is transactional: a step that fails leaves no half-made schema. A database whose schema is newer
/// than this binary knows is refused (an older instance must not write into a newer schema).
public enum PostgresMigrator {
    /// The advisory lock key all Bedside instances agree on ("bedside" and 1).
    static let lockKey: Int64 = 0x6265_6473_6964_6501

    /// Applies the missing `migrations` (in version order); their versions.
    @discardableResult
    public static func migrate(_ connections: PostgresConnections, _ migrations: [PostgresMigration], now: Int64) async throws -> [Int] {
        let steps = migrations.sorted { $0.version < $1.version }
        guard Set(steps.map(\.version)).count == steps.count else {
            throw PostgresStoreError(code: .refused, message: "Two schema steps share a version")
        }
        return try await connections.transaction(readOnly: false) { pooled in
            // No statement deadline here: a step may rewrite every row of a large table (minutes at ten
            // million resources), and an instance that finds another migrating waits for it to finish
            // instead of giving up and failing to start.
            let sql = pooled.withTimeout(.hours(24))
            try sql.execute("SET LOCAL statement_timeout = 0")
            try sql.execute("SELECT pg_advisory_xact_lock($1)", [.integer(lockKey)])
            try sql.execute("""
                CREATE TABLE IF NOT EXISTS bedside_schema (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)
                """)
            var applied = Set<Int>()
            for row in try sql.rows("SELECT version FROM bedside_schema") {
                applied.insert(Int(try PostgresSQL.decode(row[0], as: Int32.self, sql: "SELECT version")))
            }
            if let newest = applied.max(), newest > (steps.last?.version ?? 0) {
                throw PostgresStoreError(
                    code: .refused,
                    message: "The database's schema is version \(newest), newer than this bedside-server knows (\(steps.last?.version ?? 0)): run the newer version")
            }
            var done: [Int] = []
            for step in steps where !applied.contains(step.version) {
                for statement in step.statements { try sql.execute(statement) }
                try sql.execute(
                    "INSERT INTO bedside_schema (version, name, applied_at) VALUES ($1, $2, $3)",
                    [.integer(Int64(step.version)), .text(step.name), .integer(now)])
                done.append(step.version)
            }
            return done
        }
    }
}
