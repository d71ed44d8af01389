import BedsideCore
import BedsideServerKit
import Foundation

/// The real reference server on an ephemeral loopback port, with the dev CA and a maildir, for tests.
public final class LoopbackServer: @unchecked Sendable {
    public static let password = "correct-horse-battery-9"

    public let directory: URL
    public let store: any ServerStore
    /// Where the data lives: SQLite in `directory`, or a fresh PostgreSQL database (dropped at `stop`).
    public let backend: StoreBackend
    private let database: PostgresLocation?
    public let running: RunningServer
    public let administration: ServerAdministration
    public let clock: any WallClock

    public var url: String { "https://127.0.0.1:\(running.port)" }
    /// What a `bedside-server` subcommand needs to work on this server's data: its data directory, and
    /// its database when that is PostgreSQL.
    public var commandArguments: [String] {
        ["--data-dir", directory.path] + (database.map { ["--database", TestPostgres.url(for: $0)] } ?? [])
    }

    /// The SQLite store, for tests that read it synchronously (a server on the default backend).
    public var sqliteStore: SQLiteServerStore {
        guard let store = store as? SQLiteServerStore else { preconditionFailure("this LoopbackServer serves PostgreSQL") }
        return store
    }
    public var caFile: String { directory.appendingPathComponent("tls/ca.pem").path }

    /// `clock` drives the server (token expiry, lockouts); tests that move time pass a ManualClock.
    /// `rateLimit` sets a request budget (off by default, as in the library).
    /// `configure` changes anything else before the server starts.
    public init(
        clock: any WallClock = SystemClock(), rateLimit: RateLimit? = nil, backend: StoreBackend = .sqlite,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws {
        // Waiting here is normal while a parallel run starts every server it can (16 at a time).
        await warningWhileSlow("a free live-server slot", every: .seconds(120)) { await LiveServerSlots.shared.acquire() }
        self.backend = backend
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-test-\(UUID().uuidString)")
        var configuration = ServerConfiguration(dataDirectory: directory)
        configuration.port = 0
        configuration.hasher = .testing
        configuration.rateLimit = rateLimit
        configure(&configuration)
        self.clock = clock
        do {
            if backend == .postgres {
                let location = try await warningWhileSlow("a new PostgreSQL test database") { try await TestPostgres.shared.makeDatabase() }
                configuration.database = location
                database = location
                do {
                    store = try await warningWhileSlow("the PostgreSQL store to open") { try await configuration.openServerStore() }
                } catch {
                    await TestPostgres.shared.dropDatabase(location)
                    throw error
                }
            } else {
                database = nil
                store = try configuration.openStore()
            }
        } catch {
            await LiveServerSlots.shared.release()
            throw error
        }
        administration = ServerAdministration(store: store, clock: clock, hasher: .testing)
        do {
            let server = BedsideServer(configuration: configuration, store: store, clock: clock)
            running = try await warningWhileSlow("a loopback server to start") { try await server.start() }
        } catch {
            try? store.close()
            if let database { await TestPostgres.shared.dropDatabase(database) }
            await LiveServerSlots.shared.release()
            throw error
        }
    }

    private let stopOnce = NSLock()
    private var stopped = false

    /// Stops the server, closes its store and removes its directory; a second call does nothing.
    public func stop() async {
        let first = stopOnce.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        await warningWhileSlow("a loopback server to stop") { await running.stop() }
        await warningWhileSlow("a loopback server's store to shut down") { try? await store.shutdown() }
        if let database { await TestPostgres.shared.dropDatabase(database) }
        try? FileManager.default.removeItem(at: directory)
        await LiveServerSlots.shared.release()
    }

    @discardableResult
    public func addPatient(_ email: String, name: String = "Test Patient", password: String = LoopbackServer.password) async throws -> Account {
        try await administration.addUser(email: email, role: .patient, password: password, name: name)
    }

    /// The newest enrolment code (an invitation) mailed to `email`, if any.
    public func latestEnrolmentCode(for email: String) -> String? {
        MaildirMailer(directory: directory.appendingPathComponent("mail")).latestEnrolmentCode(to: email)
    }

    /// The newest login code mailed to `email`, if any.
    public func latestCode(for email: String) -> String? {
        MaildirMailer(directory: directory.appendingPathComponent("mail")).latestLoginCode(to: email)
    }
}
