import BedsideServerKit
import Foundation

/// A real PostgreSQL for tests: the cluster `.ci/run` started (`BEDSIDE_TEST_POSTGRES_URL`, its
/// administrator's URL), or else one this test process starts itself with `Tests/Postgres/cluster.sh`
/// (stopped and removed when the process ends). Each test gets a database of its own.
public actor TestPostgres {
    public static let shared = TestPostgres()

    private var admin: Task<PostgresConnections, any Error>?

    /// One cluster for the whole test process, however many tests ask at once.
    private func administrator() async throws -> PostgresConnections {
        if let admin { return try await admin.value }
        let starting = Task { try await Self.start() }
        admin = starting
        return try await starting.value
    }

    private static func start() async throws -> PostgresConnections {
        let url: String
        if let given = ProcessInfo.processInfo.environment["BEDSIDE_TEST_POSTGRES_URL"], !given.isEmpty {
            url = given
        } else {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Postgres/cluster.sh").standardized.path
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-pg-\(UUID().uuidString.prefix(8))").path
            let started = try await ChildProcess.run("/bin/bash", [script, directory, String(getpid())])
            guard started.status == 0 else { throw TestPostgresError("could not start PostgreSQL: \(started.errors)") }
            url = started.outputText.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // One connection: PostgreSQL makes databases one at a time anyway (two at once from template1
        // can fail), and a whole parallel test run may wait here a while.
        return try PostgresConnections(location: try PostgresLocation(url: url), maximumConnections: 1, leaseTimeout: .seconds(300))
    }

    /// A new, empty database (in the cluster's encoding, UTF8, unless `encoding` names another);
    /// its location (the administrator's user, no password, loopback).
    public func makeDatabase(encoding: String? = nil) async throws -> PostgresLocation {
        let admin = try await administrator()
        let name = "bedside_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let options = encoding.map { " ENCODING '\($0)' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" } ?? ""
        try await admin.withConnection { sql in try sql.execute("CREATE DATABASE \(name)\(options)") }
        var location = admin.location
        location.database = String(name)
        // Generous: under a full parallel test run on two cores a connection can take seconds.
        location.connectTimeoutSeconds = 60
        return location
    }

    /// The URL `--database` takes for a database made by `makeDatabase` (loopback, no password).
    public nonisolated static func url(for location: PostgresLocation) -> String {
        guard case .tcp(let host, let port) = location.endpoint else { return "" }
        return "postgresql://\(location.user)@\(host):\(port)/\(location.database)?sslmode=disable"
    }

    private var dropper: PostgresConnections?

    /// Removes a database made by `makeDatabase` (its connections are ended first), in the background,
    /// on a connection of its own. A drop waits for every backend of the cluster to answer a barrier:
    /// one that is busy or stopped (the frozen-COMMIT test stops one for seconds) holds it up to its
    /// statement deadline. Awaited on the one connection that also makes databases, such drops queued
    /// every later test behind them, 30 s each. Databases still being dropped when the test process
    /// ends go with the throw-away cluster.
    public func dropDatabase(_ location: PostgresLocation) async {
        guard location.database.hasPrefix("bedside_test_"), location.database.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
            let admin = try? await administrator()
        else { return }
        let connections: PostgresConnections
        if let dropper {
            connections = dropper
        } else {
            guard let made = try? PostgresConnections(location: admin.location, maximumConnections: 1, leaseTimeout: .seconds(3_600)) else { return }
            dropper = made
            connections = made
        }
        let name = location.database
        Task { _ = try? await connections.withConnection { sql in try sql.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") } }
    }
}

public struct TestPostgresError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A PostgreSQL cluster of one test's own, for what must not touch the shared one (stopping it under
/// load): its administrator's database `postgres`, on a loopback port kept across a pause.
public struct PrivateTestCluster: Sendable {
    public let url: String
    let directory: String
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Postgres/cluster.sh").standardized.path

    /// initdb and start (a few seconds); removed when this test process ends, if not before by `remove`.
    public static func start() async throws -> PrivateTestCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-pg-own-\(UUID().uuidString.prefix(8))").path
        let started = try await ChildProcess.run("/bin/bash", [script, directory, String(getpid())])
        guard started.status == 0 else { throw TestPostgresError("could not start PostgreSQL: \(started.errors)") }
        return PrivateTestCluster(url: started.outputText.trimmingCharacters(in: .whitespacesAndNewlines), directory: directory)
    }

    /// A fast shutdown: every session ended, nothing accepted until `resume`.
    public func pause() async throws {
        let paused = try await ChildProcess.run("/bin/bash", [Self.script, "--pause", directory])
        guard paused.status == 0 else { throw TestPostgresError("could not stop PostgreSQL: \(paused.errors)") }
    }

    /// Starts again on the same port.
    public func resume() async throws {
        let resumed = try await ChildProcess.run("/bin/bash", [Self.script, "--resume", directory])
        guard resumed.status == 0 else { throw TestPostgresError("could not start PostgreSQL again: \(resumed.errors)") }
    }

    public func remove() async {
        _ = try? await ChildProcess.run("/bin/bash", [Self.script, "--stop", directory])
    }
}
