import BedsideCore
import BedsideServerKit
import Foundation

/// The real reference server on an ephemeral loopback port, with the dev CA and a maildir, for tests.
public final class LoopbackServer: @unchecked Sendable {
    public static let password = "correct-horse-battery-9"

    public let directory: URL
    public let store: SQLiteServerStore
    public let running: RunningServer
    public let administration: ServerAdministration
    public let clock: any WallClock

    public var url: String { "https://127.0.0.1:\(running.port)" }
    public var caFile: String { directory.appendingPathComponent("tls/ca.pem").path }

    /// `clock` drives the server (token expiry, lockouts); tests that move time pass a ManualClock.
    /// `rateLimit` sets a request budget (off by default, as in the library).
    /// `configure` changes anything else before the server starts.
    public init(
        clock: any WallClock = SystemClock(), rateLimit: RateLimit? = nil, configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws {
        await LiveServerSlots.shared.acquire()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-test-\(UUID().uuidString)")
        var configuration = ServerConfiguration(dataDirectory: directory)
        configuration.port = 0
        configuration.hasher = .testing
        configuration.rateLimit = rateLimit
        configure(&configuration)
        self.clock = clock
        do {
            store = try configuration.openStore()
        } catch {
            await LiveServerSlots.shared.release()
            throw error
        }
        administration = ServerAdministration(store: store, clock: clock, hasher: .testing)
        do {
            running = try await BedsideServer(configuration: configuration, store: store, clock: clock).start()
        } catch {
            try? store.close()
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
        await running.stop()
        try? store.close()
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
