import BedsideServerKit
import BedsideTestSupport
import Foundation
import Testing

/// `--database` URLs: what is understood, and everything else refused with a sentence and a stable code.
@Suite("PostgreSQL: the database URL")
struct PostgresLocationTests {
    @Test("libpq's URL form: user, password, host, port, database, sslmode; the password never shown")
    func understood() throws {
        let full = try PostgresLocation(url: "postgresql://bedside:s%40cret%2F1@db.example.org:6432/monitoring?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        #expect(full.endpoint == .tcp(host: "db.example.org", port: 6432))
        #expect(full.user == "bedside" && full.password == "s@cret/1" && full.database == "monitoring")
        #expect(full.sslMode == .verifyFull && full.rootCertificateFile == "/etc/ca.pem")
        #expect(!full.redacted.contains("cret") && full.redacted.contains("***"))

        // The default checks the certificate, except on this machine.
        #expect(try PostgresLocation(url: "postgres://u@db.example.org/d").sslMode == .verifyFull)
        #expect(try PostgresLocation(url: "postgresql://u@127.0.0.1/d").sslMode == .prefer)
        #expect(try PostgresLocation(url: "postgresql://u@[::1]:5433/d").endpoint == .tcp(host: "::1", port: 5433))
        #expect(try PostgresLocation(url: "postgresql://u@/d?host=/var/run/postgresql").endpoint == .unixSocket(directory: "/var/run/postgresql", port: 5432))
        #expect(try PostgresLocation(url: "postgresql://u@h/d?connect_timeout=3").connectTimeoutSeconds == 3)
        // Only an address literal is this machine: a name that starts with 127. is somewhere else.
        #expect(try PostgresLocation(url: "postgresql://u@127.db.example.org/d").sslMode == .verifyFull)
        #expect(try PostgresLocation(url: "postgresql://u@127.0.0.1.example.org/d").sslMode == .verifyFull)
        #expect(try PostgresLocation(url: "postgresql://u@h/d?sslmode=verify-ca&sslrootcert=/ca.pem").sslMode == .verifyCA)
    }

    @Test("a URL cut in an odd place never shows its password in the refusal")
    func passwordNeverShown() {
        for url in ["postgresql://bedside:Zq9xW/cd@db/x", "postgresql://bedside:s3cr3t@db:s3cr3t/x", "postgresql://bedside:s3cr3t%ZZ@db/x"] {
            do {
                _ = try PostgresLocation(url: url)
                Issue.record("\(url) was accepted")
            } catch {
                #expect(!error.message.contains("Zq9xW") && !error.message.contains("s3cr3t"), "\(error.message)")
            }
        }
    }

    @Test("refused, with the reason: each hostile or mistyped URL", arguments: [
        ("mysql://u@h/d", PostgresLocationError.Code.unsupportedScheme),
        ("postgresql://u@h/d?sslmod=disable", .unknownParameter),
        ("postgresql://u@h/d?sslmode=maybe", .badSSLMode),
        ("postgresql://u@h/d?sslmode=require&sslrootcert=/ca.pem", .badSSLMode),
        ("postgresql://u@h/d?sslmode=verify-ca", .badSSLMode),
        ("postgresql://u@h:0/d", .badPort),
        ("postgresql://u@h:65536/d", .badPort),
        ("postgresql://u@h:99999999999999999999999/d", .badPort),
        ("postgresql://u@h:-1/d", .badPort),
        ("postgresql://u@h:x/d", .badPort),
        ("postgresql://u@/d", .missingHost),
        ("postgresql://h/d", .missingUser),
        ("postgresql://u@h", .missingDatabase),
        ("postgresql://u@h/", .missingDatabase),
        ("postgresql://u@h/a/b", .missingDatabase),
        ("postgresql://u@h/" + String(repeating: "d", count: 64), .missingDatabase),
        ("postgresql://u@h/d e", .malformed),
        ("postgresql://u@h/d\u{1B}[2J", .malformed),
        ("postgresql://u@h/d%00", .malformed),
        ("postgresql://u%ZZ@h/d", .malformed),
        ("postgresql://u@h/d?sslmode=disable&sslmode=require", .malformed),
        ("postgresql://u@h/d?host=relative", .malformed),
        ("postgresql://u@h/d?connect_timeout=0", .malformed),
        ("postgresql://u@h/d?connect_timeout=99999999999999999999", .malformed),
        ("postgresql://u@h/" + String(repeating: "x", count: 5_000), .tooLong),
    ])
    func refused(_ url: String, _ code: PostgresLocationError.Code) {
        #expect(throws: PostgresLocationError.self) { try PostgresLocation(url: url) }
        do {
            _ = try PostgresLocation(url: url)
        } catch {
            #expect(error.code == code, "\(url.prefix(60)): \(error.message)")
            #expect(!error.message.isEmpty)
        }
    }
}

/// The connection pool, transactions and schema steps against a real PostgreSQL cluster.
@Suite("PostgreSQL: connections, transactions, schema")
struct PostgresFoundationTests {
    /// A fresh database for the test, dropped after it.
    func withDatabase(_ body: (PostgresLocation) async throws -> Void) async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        do {
            try await body(location)
        } catch {
            await TestPostgres.shared.dropDatabase(location)
            throw error
        }
        await TestPostgres.shared.dropDatabase(location)
    }

    @Test("a transaction commits what it did, or nothing when it throws; a taken unique key is a constraint error")
    func transactions() async throws {
        try await withDatabase { location in
            let connections = try PostgresConnections(location: location)
            defer { Task { await connections.shutdown() } }
            try await connections.transaction(readOnly: false) { sql in
                try sql.execute("CREATE TABLE note (id TEXT PRIMARY KEY, body BYTEA NOT NULL, at BIGINT)")
                try sql.execute("INSERT INTO note VALUES ($1, $2, $3)", [.text("a"), .bytes([0, 1, 255]), .integer(Int64.max)])
            }
            struct Deliberate: Error {}
            await #expect(throws: Deliberate.self) {
                try await connections.transaction(readOnly: false) { sql in
                    try sql.execute("INSERT INTO note VALUES ($1, $2, $3)", [.text("b"), .bytes([]), .null])
                    throw Deliberate()
                }
            }
            do {
                try await connections.transaction(readOnly: false) { sql in
                    try sql.execute("INSERT INTO note VALUES ($1, $2, $3)", [.text("a"), .bytes([]), .null])
                }
                Issue.record("a duplicate key was accepted")
            } catch let error as PostgresStoreError {
                #expect(error.code == .constraint, "\(error)")
            }
            let (count, body, at) = try await connections.transaction(readOnly: true) { sql in
                let rows = try sql.rows("SELECT id, body, at FROM note ORDER BY id")
                return (rows.count, try rows.first.flatMap { try PostgresSQL.bytes($0[1], sql: "body") }, try rows.first.map { try $0[2].decode(Int64.self) })
            }
            #expect(count == 1 && body == [0, 1, 255] && at == Int64.max)
            await #expect(throws: PostgresStoreError.self) {
                try await connections.transaction(readOnly: true) { sql in try sql.execute("DELETE FROM note") }
            }
        }
    }

    @Test("a database not encoded in UTF8 is refused at start, saying how to make one")
    func refusesOtherEncodings() async throws {
        let location = try await TestPostgres.shared.makeDatabase(encoding: "LATIN1")
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-enc-\(UUID().uuidString).key").path
        defer { try? FileManager.default.removeItem(atPath: keyFile) }
        do {
            let store = try await PostgresServerStore(location: location, encryption: .masterKey(MasterKeyFile(path: keyFile)), maximumConnections: 2)
            await store.shutdown()
            Issue.record("a LATIN1 database was taken")
        } catch {
            #expect("\(error)".contains("needs UTF8") && "\(error)".contains("ENCODING 'UTF8'"), "\(error)")
        }
        await TestPostgres.shared.dropDatabase(location)
    }

    @Test("a value PostgreSQL cannot take (U+0000 in text, an index entry too large) is the request's fault: unstorableValue, a 400, nothing stored")
    func unstorableValues() async throws {
        try await withDatabase { location in
            let connections = try PostgresConnections(location: location)
            defer { Task { await connections.shutdown() } }
            try await connections.transaction(readOnly: false) { sql in try sql.execute("CREATE TABLE note (id TEXT PRIMARY KEY)") }
            let incompressible = String((0..<3_000).map { _ in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".randomElement() ?? "a" })
            for value in ["a\u{0}b", incompressible] {
                do {
                    _ = try await connections.transaction(readOnly: false) { sql in try sql.execute("INSERT INTO note VALUES ($1)", [.text(value)]) }
                    Issue.record("PostgreSQL took a value of \(value.utf8.count) bytes")
                } catch let error as PostgresStoreError {
                    #expect(error.code == .unstorableValue, "\(error)")
                    let answer = ServerError.storage(error)
                    #expect(answer.status == 400 && answer.outcome.issues.first?.code == "invalid", "\(answer.outcome)")
                    #expect(answer.retryAfterSeconds == nil, "the same request will not do better later")
                }
            }
            let stored = try await connections.transaction(readOnly: true) { sql in try sql.integer("SELECT count(*) FROM note") }
            #expect(stored == 0)
        }
    }

    @Test("a BEGIN is answered with the statement after it, and one that fails fails that statement; a read's COMMIT, not waited for, comes before the next lease's statements")
    func beginAnsweredWithNextStatement() async throws {
        try await withDatabase { location in
            let connections = try PostgresConnections(location: location, maximumConnections: 1)
            defer { Task { await connections.shutdown() } }
            do {
                _ = try await connections.withConnection { sql in try sql.beginning("BEGIN ISOLATION LEVEL NO SUCH LEVEL").integer("SELECT 1") }
                Issue.record("a BEGIN that failed went unnoticed")
            } catch let error as PostgresStoreError {
                #expect(error.code == .refused, "\(error)")
            }
            // One connection, so each lease gets the one the read before it used: had that read's
            // transaction been left open, the next statement would run inside it (repeatable read).
            for round in 1...20 {
                let isolation = "SELECT CASE current_setting('transaction_isolation') WHEN 'repeatable read' THEN 1 ELSE 0 END"
                let inside = try await connections.transaction(readOnly: true) { sql in try sql.integer(isolation) }
                #expect(inside == 1, "round \(round): a read runs inside its transaction")
                let leftOpen = try await connections.withConnection { sql in try sql.integer(isolation) }
                #expect(leftOpen == 0, "round \(round): the read before left its transaction open")
            }
        }
    }

    @Test("a COMMIT that gets no answer fails commitUnknown (a 500 saying the change may be stored); one PostgreSQL refuses (its session ended) stays a 503")
    func lostCommit() async throws {
        try await withDatabase { location in
            // Deadlines of 4 s (ours: 6 s), so that a silent COMMIT is given up on soon.
            let connections = try PostgresConnections(location: location, statementTimeout: .seconds(4))
            defer { Task { await connections.shutdown() } }
            try await connections.transaction(readOnly: false) { sql in
                try sql.execute("CREATE TABLE note (id TEXT PRIMARY KEY)")
                // Committing a note takes a moment: time to act on the session while it commits.
                try sql.execute("CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$")
                try sql.execute(
                    "CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON note DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()")
            }
            /// The session busy with a note's slow COMMIT (asleep in its trigger), once it is; never `other`.
            /// (A read's COMMIT is not waited for, so a pooled session may show an active COMMIT for a moment
            /// too: one of them, ended, would fail whatever the pool gave it next.)
            func committing(other: Int32 = 0) async throws -> Int32 {
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    let pid = try await connections.transaction(readOnly: true) { sql in
                        try sql.integer(
                            """
                            SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'COMMIT' AND state = 'active'
                            AND wait_event = 'PgSleep' AND pid <> pg_backend_pid() AND pid <> $1
                            """, [.integer(Int64(other))])
                    }
                    if let pid { return Int32(pid) }
                    try await Task.sleep(for: .milliseconds(20))
                }
                throw TestFailure("no session was committing")
            }
            func write(_ id: String) async -> PostgresStoreError? {
                do {
                    try await connections.transaction(readOnly: false) { sql in try sql.execute("INSERT INTO note VALUES ($1)", [.text(id)]) }
                    return nil
                } catch {
                    return error as? PostgresStoreError ?? PostgresStoreError(code: .refused, message: "\(error)")
                }
            }

            // No session of this database is left stopped, however this test ends, even killed: a stopped
            // backend never answers the barrier every DROP DATABASE waits for, so each test's clean-up on
            // the shared cluster would stall until its statement deadline. A detached shell resumes them
            // all in 45 s regardless (found by the database's random name in their process title, with or
            // without a cluster name before it). It starts before the write: the COMMIT lasts 3 s, and
            // starting a process between seeing it and stopping it took longer than that on a loaded CI machine.
            let resumer = Process()
            resumer.executableURL = URL(fileURLWithPath: "/bin/sh")
            resumer.arguments = ["-c", "sleep 45; pkill -CONT -f ' \(location.database) '"]
            (resumer.standardInput, resumer.standardOutput, resumer.standardError) = (FileHandle.nullDevice, FileHandle.nullDevice, FileHandle.nullDevice)
            try ProcessLaunch.run(resumer)

            // Frozen mid-COMMIT (a stopped server, a cut network): nobody can know.
            async let frozenWrite = write("a")
            let frozen = try await committing()
            kill(frozen, SIGSTOP)
            defer { kill(frozen, SIGCONT) }
            let lost = await frozenWrite
            kill(frozen, SIGCONT)
            #expect(lost?.code == .commitUnknown, "\(String(describing: lost))")
            let unknown = ServerError.storage(try #require(lost))
            #expect(unknown.status == 500 && unknown.outcome.issues.first?.diagnostics.contains("may or may not be stored") == true)

            // Ended by PostgreSQL mid-COMMIT: it answered, and the change was not made.
            async let endedWrite = write("b")
            // Not the frozen session: resumed, it may still be asleep in its trigger for a while.
            let ended = try await committing(other: frozen)
            _ = try await connections.transaction(readOnly: true) { sql in try sql.integer("SELECT count(pg_terminate_backend($1::int))", [.integer(Int64(ended))]) }
            let refused = await endedWrite
            #expect(refused?.code == .unavailable && refused?.answerLost == false, "\(String(describing: refused))")
            #expect(ServerError.storage(try #require(refused)).status == 503)
            #expect(try await connections.transaction(readOnly: true) { sql in try sql.integer("SELECT count(*) FROM note WHERE id = 'b'") } == 0)
        }
    }

    @Test("schema steps: four instances starting at once apply each step exactly once; a newer schema is refused")
    func migrations() async throws {
        try await withDatabase { location in
            let steps = [
                PostgresMigration(version: 1, name: "one", statements: ["CREATE TABLE counted (n INTEGER)", "INSERT INTO counted VALUES (1)"]),
                PostgresMigration(version: 2, name: "two", statements: ["INSERT INTO counted VALUES (2)"]),
            ]
            let instances = try (0..<4).map { _ in try PostgresConnections(location: location, maximumConnections: 2) }
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for instance in instances { group.addTask { try await PostgresMigrator.migrate(instance, steps, now: 1) } }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(applied.sorted() == [1, 2], "each step applied by exactly one instance")
            let rows = try await instances[0].transaction(readOnly: true) { sql in try sql.integer("SELECT count(*) FROM counted") }
            #expect(rows == 2)
            // A third step later: only it runs.
            let later = try await PostgresMigrator.migrate(instances[1], steps + [PostgresMigration(version: 3, name: "three", statements: ["INSERT INTO counted VALUES (3)"])], now: 2)
            #expect(later == [3])
            // An older binary meets the newer schema: refused, nothing changed.
            do {
                try await PostgresMigrator.migrate(instances[2], steps, now: 3)
                Issue.record("an older binary was let into a newer schema")
            } catch let error as PostgresStoreError {
                #expect(error.code == .refused && error.message.contains("newer"), "\(error)")
            }
            // A failing step leaves nothing of itself.
            await #expect(throws: PostgresStoreError.self) {
                try await PostgresMigrator.migrate(
                    instances[3], steps + [PostgresMigration(version: 3, name: "three", statements: []),
                        PostgresMigration(version: 4, name: "broken", statements: ["INSERT INTO counted VALUES (4)", "SELECT * FROM no_such_table"])], now: 4)
            }
            #expect(try await instances[0].transaction(readOnly: true) { sql in try sql.integer("SELECT count(*) FROM counted") } == 3)
            for instance in instances { await instance.shutdown() }
        }
    }

    @Test("a statement past its deadline fails timedOut and the pool goes on; nobody listening is unavailable, quickly")
    func deadlines() async throws {
        try await withDatabase { location in
            let connections = try PostgresConnections(location: location, maximumConnections: 1, statementTimeout: .seconds(1))
            let started = ContinuousClock.now
            do {
                _ = try await connections.withConnection { sql in try sql.execute("SELECT pg_sleep(20)") }
                Issue.record("a 20 s statement finished")
            } catch let error as PostgresStoreError {
                #expect(error.code == .timedOut, "\(error)")
            }
            #expect(ContinuousClock.now - started < .seconds(10))
            // The connection that timed out was closed, not handed out again mid-answer.
            #expect(try await connections.withConnection { sql in try sql.integer("SELECT 41 + 1") } == 42)
            await connections.shutdown()
        }
        // A port nobody listens on: no connection within the lease deadline.
        let nobody = try PostgresLocation(url: "postgresql://u@127.0.0.1:1/d?sslmode=disable&connect_timeout=1")
        let connections = try PostgresConnections(location: nobody, leaseTimeout: .seconds(2))
        let started = ContinuousClock.now
        do {
            _ = try await connections.withConnection { sql in try sql.integer("SELECT 1") }
            Issue.record("a connection to nobody succeeded")
        } catch let error as PostgresStoreError {
            #expect(error.code == .unavailable, "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(8))
        await connections.shutdown()
    }

    @Test("a pool stopped while it is still making a connection, to a peer that never answers, stops within its bound")
    func shutdownWhileConnecting() async throws {
        // A black hole: the TCP connection is made, the startup message is never answered.
        let silent = try FaultProxy(upstreamPort: 1)
        silent.fault = .dropAll
        defer { silent.stop() }
        let location = try PostgresLocation(url: "postgresql://u@127.0.0.1:\(silent.port)/d?sslmode=disable&connect_timeout=60")
        let connections = try PostgresConnections(location: location, leaseTimeout: .seconds(60))
        let asking = Task { try? await connections.withConnection { sql in try sql.integer("SELECT 1") } }
        for _ in 0..<200 where silent.counters.bytesWithheldFromServer == 0 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(silent.counters.bytesWithheldFromServer > 0, "the pool never began a connection")
        let started = ContinuousClock.now
        await connections.shutdown(waitingAtMost: .seconds(5))
        #expect(ContinuousClock.now - started < .seconds(15))
        asking.cancel()
    }
}
