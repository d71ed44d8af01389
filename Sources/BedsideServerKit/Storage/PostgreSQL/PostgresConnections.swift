import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// A value bound to a statement's `$n` placeholder.
public enum SQLValue: Sendable, Equatable {
    case integer(Int64)
    case text(String)
    case bytes([UInt8])
    /// A text array (`= ANY($n)`): one placeholder, whatever the list's length.
    case texts([String])
    /// Arrays for `unnest`, a column of many rows in one placeholder.
    case integers([Int64])
    case byteArrays([[UInt8]])
    case null
}

/// Why a PostgreSQL operation failed; `code` is stable (the HTTP layer maps `unavailable` to 503 with
/// Retry-After), `message` is for the log and the administrator.
public struct PostgresStoreError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// No connection in time: the database is down, restarting, unreachable or every connection busy.
        case unavailable
        /// A statement did not answer in time (its connection is closed, never reused mid-answer).
        case timedOut
        /// Two transactions collided (a serialization failure or deadlock): trying again may succeed.
        case conflict
        /// A constraint refused the change (a unique key taken).
        case constraint
        /// A value PostgreSQL cannot take as it is (U+0000 in text, an index entry too large): the
        /// request's fault, not the database's.
        case unstorableValue
        /// Anything else PostgreSQL refused: a bug or a schema that is not this version's.
        case refused
        /// The answer did not have the shape asked for.
        case decoding
        /// The connection failed while a write committed: the change may or may not be stored. Sending
        /// it again is safe only when it is idempotent (a conditional create, an update with If-Match).
        case commitUnknown
    }

    public let code: Code
    public let message: String
    /// The statement was sent and no answer came (the connection lost or silent): whatever it was
    /// doing may have happened. An error PostgreSQL answered with means it did not.
    public let answerLost: Bool

    public init(code: Code, message: String, answerLost: Bool = false) {
        self.code = code
        self.message = message
        self.answerLost = answerLost
    }

    public var description: String { message }

    /// From whatever postgres-nio threw: PostgreSQL's SQLSTATE decides the code.
    static func from(_ error: any Error, sql: String) -> PostgresStoreError {
        if let known = error as? PostgresStoreError { return known }
        if let psql = error as? PSQLError {
            if let state = psql.serverInfo?[.sqlState] {
                let text = psql.serverInfo?[.message] ?? "no message"
                switch state {
                case "40001", "40P01", "55P03": return .init(code: .conflict, message: "PostgreSQL: \(text) (\(state))")
                // The server's own statement_timeout (a wait for the write lock included).
                case "57014": return .init(code: .timedOut, message: "PostgreSQL ended a statement that ran too long: \(text)")
                // A standby after a failover, or a server shutting down: another try may reach the new primary.
                case "25006": return .init(code: .unavailable, message: "PostgreSQL is read-only at the moment: \(text) (\(state))")
                case "23505", "23503", "23514", "23502": return .init(code: .constraint, message: "PostgreSQL: \(text) (\(state))")
                // Not in the text's repertoire (U+0000), or past a limit (an index row too large). (Untranslatable
                // characters, 22P05, cannot come from a client: the store refuses a database not in UTF8.)
                case "22021", "54000": return .init(code: .unstorableValue, message: "PostgreSQL refused a value in \(sql.prefix(80)): \(text) (\(state))")
                case "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004":
                    return .init(code: .unavailable, message: "PostgreSQL is not available: \(text) (\(state))")
                default: return .init(code: .refused, message: "PostgreSQL refused \(sql.prefix(80)): \(text) (\(state))")
                }
            }
            return .init(code: .unavailable, message: "PostgreSQL connection lost: \(psql.code)", answerLost: true)
        }
        return .init(code: .unavailable, message: "PostgreSQL: \(error)", answerLost: true)
    }
}

/// Statements on one leased connection, synchronously: the store's sessions are synchronous, so they
/// run on a thread of NIO's blocking pool and wait here for each answer (never on an event loop, never
/// on Swift's concurrency pool). Every wait has a deadline.
public struct PostgresSQL: Sendable {
    let connection: PostgresConnection
    private(set) var timeout: TimeAmount
    let logger: Logger
    /// A transaction's BEGIN, sent without waiting for its answer: a connection answers in order, so
    /// it has come by the time the next statement's has, and each statement checks it then. A BEGIN
    /// that failed is seen before anything but that first statement ran (always a lock or a read).
    private var begun: EventLoopFuture<PostgresQueryResult>?

    init(connection: PostgresConnection, timeout: TimeAmount, logger: Logger) {
        self.connection = connection
        self.timeout = timeout
        self.logger = logger
    }

    /// The same connection and transaction with another statement deadline.
    func withTimeout(_ timeout: TimeAmount) -> PostgresSQL {
        var copy = self
        copy.timeout = timeout
        return copy
    }

    /// Starts a transaction (`BEGIN …`) whose answer the next statement's wait covers: one wait on
    /// the database fewer per transaction.
    public func beginning(_ begin: String) -> PostgresSQL {
        var copy = self
        copy.begun = send(begin)
        return copy
    }

    /// Sends a statement and does not wait for its answer (which comes before any later statement's
    /// on this connection): a BEGIN, or the COMMIT that ends a read-only transaction.
    func send(_ sql: String) -> EventLoopFuture<PostgresQueryResult> {
        connection.query(PostgresQuery(unsafeSQL: sql, binds: PostgresBindings()), logger: logger)
    }

    /// Runs a statement; the number of rows it changed (or returned).
    @discardableResult
    public func execute(_ sql: String, _ values: [SQLValue] = []) throws(PostgresStoreError) -> Int {
        try run(sql, values).metadata.rows ?? 0
    }

    /// Runs a statement; the command tag PostgreSQL answered with (`COMMIT`, `ROLLBACK`, `INSERT 0 1`…).
    func commandTag(_ sql: String) throws(PostgresStoreError) -> String {
        try run(sql, []).metadata.command
    }

    /// Runs a query; its rows, each column by position.
    public func rows(_ sql: String, _ values: [SQLValue] = []) throws(PostgresStoreError) -> [PostgresRandomAccessRow] {
        try run(sql, values).rows.map { $0.makeRandomAccess() }
    }

    /// The first column of the first row, as a 64-bit integer (nil: no row or NULL).
    public func integer(_ sql: String, _ values: [SQLValue] = []) throws(PostgresStoreError) -> Int64? {
        guard let row = try rows(sql, values).first, !row.isEmpty else { return nil }
        return try Self.decode(row[0], as: Int64?.self, sql: sql)
    }

    /// A BYTEA column's bytes (nil: NULL).
    public static func bytes(_ cell: PostgresCell, sql: String) throws(PostgresStoreError) -> [UInt8]? {
        guard let buffer = try decode(cell, as: ByteBuffer?.self, sql: sql) else { return nil }
        return Array(buffer.readableBytesView)
    }

    public static func decode<T: PostgresDecodable>(_ cell: PostgresCell, as type: T.Type, sql: String) throws(PostgresStoreError) -> T {
        do {
            return try cell.decode(T.self)
        } catch {
            throw PostgresStoreError(code: .decoding, message: "PostgreSQL answered \(sql.prefix(60)) with a column that is not a \(T.self)")
        }
    }

    private func run(_ sql: String, _ values: [SQLValue]) throws(PostgresStoreError) -> PostgresQueryResult {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .integer(let number): bindings.append(number)
            case .text(let text): bindings.append(text)
            case .bytes(let bytes): bindings.append(ByteBuffer(bytes: bytes))
            case .texts(let list): bindings.append(list)
            case .integers(let list): bindings.append(list)
            case .byteArrays(let list): bindings.append(list.map { ByteBuffer(bytes: $0) })
            case .null: bindings.appendNull()
            }
        }
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        let eventLoop = connection.eventLoop
        let answer = eventLoop.makePromise(of: PostgresQueryResult.self)
        let connection = connection
        // A deadline of our own, a little after the server's statement_timeout (which ends a slow
        // statement cleanly and keeps the connection): a connection the server or the network dropped
        // can leave an answer waiting forever. Then the connection is closed, and closed before its
        // lease goes back, so the pool never hands it out again.
        let closed = eventLoop.makePromise(of: Void.self)
        let deadline = eventLoop.scheduleTask(in: timeout + .seconds(2)) {
            answer.fail(PostgresStoreError(code: .timedOut, message: "PostgreSQL did not answer \(sql.prefix(60)) in time", answerLost: true))
            connection.close().whenComplete { _ in closed.succeed() }
        }
        // A connection that closes (PostgreSQL shut down, the network cut) fails what waits on it at
        // once: postgres-nio can hand out a connection whose end it has not yet seen, and a query
        // on it would otherwise wait for the deadline above while the client waits for its answer.
        // (Looked at every half second, not by a callback on its close: such callbacks would pile up
        // for as long as the connection lives.)
        let watch = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(500)) { _ in
            if connection.isClosed {
                answer.fail(PostgresStoreError(
                    code: .unavailable, message: "PostgreSQL connection closed before it answered \(sql.prefix(60))", answerLost: true))
            }
        }
        connection.query(query, logger: logger).cascade(to: answer)
        do {
            let result = try answer.futureResult.wait()
            // Answered already (it came first); a BEGIN that failed fails this statement too.
            if let begun { _ = try begun.wait() }
            deadline.cancel()
            watch.cancel()
            closed.succeed()
            return result
        } catch {
            deadline.cancel()
            watch.cancel()
            if let own = error as? PostgresStoreError, own.code == .timedOut { try? closed.futureResult.wait() } else { closed.succeed() }
            throw PostgresStoreError.from(error, sql: sql)
        }
    }
}

/// The pool of connections to one database, and transactions on it.
public final class PostgresConnections: Sendable {
    public let location: PostgresLocation
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    let statementTimeout: TimeAmount
    /// What every connection says at its start (deadlines and keepalive).
    private let startupParameters: [(String, String)]
    private let leaseTimeout: Duration
    /// The threads the synchronous sessions run on: one per connection, so waiting on one (for another
    /// instance's write lock) never holds up the others.
    private let threads: NIOThreadPool
    private let logger: Logger

    /// Starts the pool (connections are made when first needed). `maximumConnections` bounds what this
    /// instance holds at once; a request that finds none free within `leaseTimeout` fails `unavailable`.
    public init(
        location: PostgresLocation, maximumConnections: Int = 16, statementTimeout: Duration = .seconds(30),
        leaseTimeout: Duration? = nil, logger: Logger = Logger(label: "bedside-server.postgres")
    ) throws(PostgresStoreError) {
        self.location = location
        var configuration: PostgresClient.Configuration
        let tls = try Self.tls(for: location)
        switch location.endpoint {
        case .tcp(let host, let port):
            configuration = .init(host: host, port: port, username: location.user, password: location.password, database: location.database, tls: tls)
        case .unixSocket(let directory, let port):
            configuration = .init(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: location.user, password: location.password, database: location.database)
        }
        configuration.options.maximumConnections = max(1, maximumConnections)
        configuration.options.connectTimeout = .seconds(location.connectTimeoutSeconds)
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(30))
        // Deadlines the database keeps too: a statement (a wait for the write lock included) ends after
        // the statement timeout, and a transaction left idle by a frozen or cut-off instance is ended
        // (its locks released) instead of holding every instance's writes for hours; dead peers are
        // found by TCP keepalive within about a minute.
        let seconds = min(max(statementTimeout.components.seconds, 1), 3_600)
        startupParameters = [
            ("statement_timeout", "\(seconds)s"), ("idle_in_transaction_session_timeout", "\(seconds)s"),
            ("tcp_keepalives_idle", "30"), ("tcp_keepalives_interval", "10"), ("tcp_keepalives_count", "3"),
            // ...and a peer that stops acknowledging what is sent to it (a frozen network) within a minute,
            // so its session ends and the scheduled jobs whose locks it held pass to another instance.
            ("tcp_user_timeout", "60000"),
        ]
        configuration.options.additionalStartupParameters = startupParameters
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let client = client
        runner = Task { await client.run() }
        threads = NIOThreadPool(numberOfThreads: max(1, maximumConnections))
        threads.start()
        self.statementTimeout = .nanoseconds(seconds * 1_000_000_000)
        self.leaseTimeout = leaseTimeout ?? .seconds(location.connectTimeoutSeconds)
        self.logger = logger
    }

    deinit {
        runner.cancel()
        threads.shutdownGracefully { _ in }
    }

    /// Stops the pool without waiting: its connections close in the background.
    public func close() {
        runner.cancel()
        threads.shutdownGracefully { _ in }
    }

    /// Stops the pool: its connections are closed. postgres-nio's pool has been seen not to end when
    /// cancelled while a connection was being made (vapor/postgres-nio#599): after `limit` the stop goes
    /// on without it, with a warning, rather than leave the process unable to exit.
    public func shutdown(waitingAtMost limit: Duration = .seconds(15)) async {
        runner.cancel()
        if await !waitForEnd(of: runner, atMost: limit) {
            logger.warning("the PostgreSQL pool did not close in time; stopping without it", metadata: ["seconds": "\(limit.components.seconds)"])
        }
        try? await threads.shutdownGracefully()
    }

    /// Runs `work` on a leased connection, on a thread of NIO's blocking pool.
    public func withConnection<T: Sendable>(_ work: @escaping @Sendable (PostgresSQL) throws -> T) async throws -> T {
        let (timeout, logger, leaseTimeout, threads) = (statementTimeout, logger, leaseTimeout, threads)
        let client = client
        let leased = LeaseFlag()
        do {
            return try await withThrowingTaskGroup(of: LeaseOutcome<T>.self) { group in
                group.addTask {
                    try await client.withConnection { connection in
                        leased.set()
                        let sql = PostgresSQL(connection: connection, timeout: timeout, logger: logger)
                        return LeaseOutcome.done(try await threads.runIfActive { try work(sql) })
                    }
                }
                group.addTask {
                    // Cancelled (the caller's task was): no verdict from here; work that has a connection
                    // runs to its end, and its result, not a guess, is what the caller gets.
                    do { try await Task.sleep(for: leaseTimeout) } catch { return .noVerdict }
                    return .leaseTimedOut
                }
                while let outcome = try await group.next() {
                    switch outcome {
                    case .done(let value):
                        group.cancelAll()
                        return value
                    case .leaseTimedOut where !leased.isSet:
                        group.cancelAll()
                        throw PostgresStoreError(code: .unavailable, message: "No PostgreSQL connection within \(leaseTimeout)")
                    case .leaseTimedOut, .noVerdict:
                        // Once work has a connection it runs to its end (its statements have deadlines).
                        continue
                    }
                }
                throw PostgresStoreError(code: .unavailable, message: "No PostgreSQL connection")
            }
        } catch let error as PSQLError {
            throw PostgresStoreError.from(error, sql: "")
        } catch where !leased.isSet && !(error is PostgresStoreError) {
            // The pool's own refusals (shut down, request cancelled): no connection was had.
            throw PostgresStoreError(code: .unavailable, message: "No PostgreSQL connection: \(error)")
        }
        // Anything else (the work's own errors, PostgresStoreError) goes to the caller as it was thrown.
    }

    /// Runs `work` in one transaction: committed when it returns, rolled back when it throws.
    /// Writes run READ COMMITTED (what must not interleave takes a row or advisory lock); reads see one
    /// snapshot (REPEATABLE READ, READ ONLY). The BEGIN is answered with the first statement, and a
    /// read's COMMIT is not waited for (it ends a snapshot and changes nothing; the connection's next
    /// statement, whoever leases it, comes after it): a search on PostgreSQL makes 13 statements in
    /// three transactions, and each wait is a round trip through the event loop.
    public func transaction<T: Sendable>(readOnly: Bool, _ work: @escaping @Sendable (PostgresSQL) throws -> T) async throws -> T {
        try await withConnection { leased in
            let sql = leased.beginning(readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN ISOLATION LEVEL READ COMMITTED")
            do {
                let value = try work(sql)
                if readOnly {
                    _ = sql.send("COMMIT")
                    return value
                }
                let tag: String
                do {
                    tag = try sql.commandTag("COMMIT")
                } catch let error as PostgresStoreError where !readOnly && error.answerLost {
                    // The COMMIT was sent and no answer came: it may have been applied. (An error
                    // PostgreSQL answered it with, a cancel or a shutdown, means it was not.)
                    throw PostgresStoreError(code: .commitUnknown, message: "PostgreSQL did not answer a COMMIT: \(error.message)")
                }
                // After an error inside the transaction PostgreSQL answers COMMIT with ROLLBACK.
                guard tag == "COMMIT" else {
                    throw PostgresStoreError(code: .refused, message: "PostgreSQL rolled the transaction back instead of committing it")
                }
                return value
            } catch {
                _ = try? sql.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// A connection outside the pool, with the same address, TLS and deadlines, for a session that must
    /// live on its own (the scheduled jobs' advisory locks).
    func dedicatedConnection(logger: Logger) async throws -> PostgresConnection {
        var configuration: PostgresConnection.Configuration
        switch location.endpoint {
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            if location.sslMode == .disable {
                tls = .disable
            } else {
                let context = try NIOSSLContext(configuration: try Self.tlsConfiguration(for: location))
                tls = location.sslMode == .prefer ? .prefer(context) : .require(context)
            }
            configuration = .init(host: host, port: port, username: location.user, password: location.password, database: location.database, tls: tls)
        case .unixSocket(let directory, let port):
            configuration = .init(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: location.user, password: location.password, database: location.database)
        }
        configuration.options.connectTimeout = .seconds(Int64(location.connectTimeoutSeconds))
        configuration.options.additionalStartupParameters = startupParameters
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        } catch {
            throw PostgresStoreError.from(error, sql: "")
        }
    }

    private static func tls(for location: PostgresLocation) throws(PostgresStoreError) -> PostgresClient.Configuration.TLS {
        if location.sslMode == .disable { return .disable }
        let configuration = try tlsConfiguration(for: location)
        return location.sslMode == .prefer ? .prefer(configuration) : .require(configuration)
    }

    private static func tlsConfiguration(for location: PostgresLocation) throws(PostgresStoreError) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        switch location.sslMode {
        case .disable, .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        if let file = location.rootCertificateFile {
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw PostgresStoreError(code: .unavailable, message: "sslrootcert \(file) cannot be read")
            }
            configuration.trustRoots = .file(file)
        }
        return configuration
    }
}

private enum LeaseOutcome<T: Sendable>: Sendable {
    case done(T)
    case leaseTimedOut
    case noVerdict
}

private final class LeaseFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
