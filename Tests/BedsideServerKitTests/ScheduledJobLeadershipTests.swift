import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// Scheduled jobs across instances: exactly one instance runs each, and another takes over when the
/// one that ran it is gone (its database session ended: a crash, a cut connection, a stop).
@Suite("Scheduled jobs: one instance each, taken over when it is gone")
struct ScheduledJobLeadershipTests {
    @Test("SQLite: the one process runs every job")
    func sqliteRunsEverything() async throws {
        let (store, remove) = try await StoreBackend.sqlite.makeStore()
        for job in ScheduledJob.allCases { #expect(await store.leads(job)) }
        await remove()
    }

    @Test("PostgreSQL: each job held by one of two instances; a killed session and a stop hand them over")
    func postgresHandsOver() async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-lead-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encryption = StoreEncryption.masterKey(MasterKeyFile(path: directory.appendingPathComponent("master.key").path))
        let a = try await PostgresServerStore(location: location, encryption: encryption, maximumConnections: 2)
        let b = try await PostgresServerStore(location: location, encryption: encryption, maximumConnections: 2)

        // First come, first served, job by job; asking again keeps what one holds.
        let aHousekeeping = await a.leads(.housekeeping)
        let bHousekeeping = await b.leads(.housekeeping)
        let bExports = await b.leads(.exports)
        let aExports = await a.leads(.exports)
        #expect(aHousekeeping && !bHousekeeping && bExports && !aExports)
        var aAgain: [Bool] = []
        for _ in 0..<5 { aAgain.append(await a.leads(.housekeeping)) }
        #expect(aAgain == [true, true, true, true, true])
        let bStillOut = await b.leads(.housekeeping)
        #expect(!bStillOut)

        // A's session ends under it, as when its process dies: B takes the job at its next turn, and A,
        // on a new connection, finds it taken. (Advisory locks are per database: other tests' servers on
        // the same cluster hold the same keys in theirs.)
        let ended = try await a.connections.withConnection { sql in
            try sql.integer(
                """
                SELECT count(pg_terminate_backend(pid)) FROM pg_locks
                WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND pid <> pg_backend_pid()
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """,
                [.integer(Int64(PostgresJobLeadership.lockSpace)), .integer(Int64(ScheduledJob.housekeeping.rawValue))])
        }
        #expect(ended == 1)
        try await Task.sleep(for: .milliseconds(200))
        let bTakesOver = await b.leads(.housekeeping)
        let aLost = await a.leads(.housekeeping)
        #expect(bTakesOver && !aLost)

        // B stops: everything it held is free for A.
        await b.shutdown()
        let aNow = await a.leads(.housekeeping)
        let aExportsNow = await a.leads(.exports)
        #expect(aNow && aExportsNow)
        await a.shutdown()
        let closedLeads = await a.leads(.retention)
        #expect(!closedLeads, "a closed store leads nothing")
        await TestPostgres.shared.dropDatabase(location)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("PostgreSQL away: no instance claims a job it cannot be sure of")
    func postgresAwayLeadsNothing() async throws {
        let nobody = try PostgresLocation(url: "postgresql://u@127.0.0.1:1/d?sslmode=disable&connect_timeout=1")
        let connections = try PostgresConnections(location: nobody, leaseTimeout: .seconds(2))
        let leadership = PostgresJobLeadership(connections: connections, logger: .init(label: "test"))
        let started = ContinuousClock.now
        let leads = await leadership.leads(.subscriptions)
        #expect(!leads)
        // Within seconds (a refused connection), not the 32 s of a statement deadline; the bound is loose
        // because the whole suite runs at once on two cores.
        #expect(ContinuousClock.now - started < .seconds(20))
        await leadership.close()
        await connections.shutdown()
    }

    @Test("a scheduling question PostgreSQL never answers ends for its caller as soon as the caller is cancelled (a stop), on a made connection and while one is made; the connection and the other jobs' locks stay")
    func cancelledQuestionEnds() async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        guard case .tcp(_, let port) = location.endpoint else { throw TestFailure("the test cluster is not on TCP") }
        let proxy = try FaultProxy(upstreamPort: port)
        defer { proxy.stop() }
        var proxied = location
        proxied.endpoint = .tcp(host: "127.0.0.1", port: proxy.port)
        // The deadlines a stop must not wait for: 32 s for a question, 60 s for a connection.
        let connections = try PostgresConnections(location: proxied, statementTimeout: .seconds(30))
        let leadership = PostgresJobLeadership(connections: connections, logger: .init(label: "test"))
        #expect(await leadership.leads(.housekeeping))

        /// How long a question asked into the black hole takes to end once its task is cancelled (nil
        /// leads: it had not ended after 20 s, and the test goes on without it).
        func cancelled(_ job: ScheduledJob) async throws -> (leads: Bool?, took: Duration) {
            let answer = MultiInstanceTests.Shared<Bool?>(nil)
            let asking = Task { let leads = await leadership.leads(job); answer.value.withLock { $0 = leads } }
            try await Task.sleep(for: .milliseconds(500))
            #expect(answer.value.withLock { $0 } == nil, "answered through the black hole")
            let started = ContinuousClock.now
            asking.cancel()
            while answer.value.withLock({ $0 }) == nil, ContinuousClock.now - started < .seconds(20) { try await Task.sleep(for: .milliseconds(20)) }
            return (answer.value.withLock { $0 }, ContinuousClock.now - started)
        }
        /// This instance's session still holds the housekeeping lock (asked on a connection of the test's own).
        func housekeepingHeld() async throws -> Bool {
            let direct = try PostgresConnections(location: location, maximumConnections: 1)
            defer { direct.close() }
            let held = try await direct.transaction(readOnly: true) { sql in
                try sql.integer(
                    """
                    SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND granted
                    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    """, [.integer(Int64(PostgresJobLeadership.lockSpace)), .integer(Int64(ScheduledJob.housekeeping.rawValue))])
            }
            return held == 1
        }
        // The question is sent and never reaches PostgreSQL. The caller stops waiting at once; the
        // connection, and the lock it holds for another job, stay (the question ends by its own deadline).
        proxy.fault = .dropAll
        let asked = try await cancelled(.exports)
        #expect(asked.leads == false && asked.took < .seconds(10), "\(asked)")
        #expect(try await housekeepingHeld(), "a cancelled question took the other jobs' lock with it")
        // The connection cut: a new one is never answered either.
        proxy.closeConnections()
        try await Task.sleep(for: .milliseconds(500))
        let connecting = try await cancelled(.retention)
        #expect(connecting.leads == false && connecting.took < .seconds(10), "\(connecting)")

        await leadership.close()
        await connections.shutdown(waitingAtMost: .seconds(5))
        await TestPostgres.shared.dropDatabase(location)
    }
}
