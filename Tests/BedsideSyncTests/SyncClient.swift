import BedsideCore
import BedsideServerKit
import BedsideStore
import BedsideTestSupport
import BedsideVault
import Foundation
import GRDB
import Testing

@testable import BedsideSync

/// A patient's device for sync tests: a real encrypted store, a real login (password, then the mailed
/// code), and the real sync engine over the libcurl transport to a real server (or a proxy in front of it).
final class SyncClient: @unchecked Sendable {
    let directory: URL
    let store: ClientStore
    let transport: HTTPTransport
    let api: BedsideAPI
    let patientID: String
    let clock: any WallClock
    let email: String
    private(set) var token: String

    /// Logs `email` in on `server` (directly), then talks to `url` (the server, or a proxy before it).
    init(
        server: LoopbackServer, email: String, url: String? = nil, clock: any WallClock = SystemClock(),
        transport configuration: TransportConfiguration? = nil
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sync-client-\(UUID().uuidString)")
        try SecureFiles.makePrivateDirectory(directory)
        let (vault, _) = try KeyVault.create(password: "client-password-1", parameters: .testing)
        store = try ClientStore(directory: directory, vault: vault)
        transport = HTTPTransport(configuration: configuration ?? TransportConfiguration(caFile: server.caFile))
        api = BedsideAPI(server: url ?? server.url, transport: transport)
        self.clock = clock
        self.email = email
        let grant = try await Self.login(server: server, email: email)
        token = grant.accessToken
        patientID = grant.patientID ?? ""
    }

    /// A new session for `email`: the password step, then the code from the maildir.
    static func login(server: LoopbackServer, email: String) async throws -> SessionGrant {
        let transport = HTTPTransport(configuration: TransportConfiguration(caFile: server.caFile))
        defer { transport.closeConnections() }
        let api = BedsideAPI(server: server.url, transport: transport)
        let challenge = try await api.requestCode(email: email, password: LoopbackServer.password)
        guard let code = server.latestCode(for: email) else { throw TestFailure("no code mailed to \(email)") }
        return try await api.verifyCode(challenge: challenge, code: code)
    }

    /// Logs in again (the server ended the session); the store and its queue stay as they are.
    func logInAgain(server: LoopbackServer, email: String) async throws {
        token = try await Self.login(server: server, email: email).accessToken
    }

    func engine(batchSize: Int = 250) -> SyncEngine {
        var engine = SyncEngine(api: api, store: store, token: token, clock: clock)
        engine.batchSize = batchSize
        return engine
    }

    func push(batchSize: Int = 250, progress: SyncEngine.ProgressHandler? = nil) async -> SyncReport {
        await engine(batchSize: batchSize).push(patientID: patientID, progress: progress)
    }

    func sync() async -> SyncReport {
        await engine().run(patientID: patientID)
    }

    /// `count` weights, a minute apart, ending `before` milliseconds before now; saved and queued.
    @discardableResult
    func addWeights(_ count: Int, endingBefore before: Int64 = 3_600_000) throws -> [MeasurementRecord] {
        let now = clock.now()
        let records = (0..<count).map { index in
            MeasurementRecord(
                id: UUID().uuidString.lowercased(), kind: .bodyWeight, values: [.init(part: .bodyWeight, literal: "8\(index % 10).\(index % 7)")],
                effectiveAt: now - before - Int64(index) * 60_000, utcOffsetSeconds: 3600)
        }
        try store.addMany(records, now: now)
        return records
    }

    func unsent() throws -> Int { try store.unsentCount() }

    /// What the server holds, asked directly (not through this device's possibly broken network).
    func serverIdentifiersDirect(_ server: LoopbackServer) async throws -> [String] {
        let direct = try await SyncClient(server: server, email: email)
        defer { direct.close() }
        return try await direct.serverIdentifiers()
    }

    /// The client identifier of every Observation the server holds for this patient (asked over the API).
    func serverIdentifiers() async throws -> [String] {
        var identifiers: [String] = []
        var next: String? = "/fhir/Observation?patient=\(patientID)&_count=1000"
        while let path = next {
            let response = try await api.send("GET", path, token: token)
            guard response.status == 200, let bundle = response.json else { throw TestFailure("search answered \(response.status)") }
            for entry in bundle["entry"]?.arrayValue ?? [] {
                identifiers.append(entry["resource"]?["identifier"]?.arrayValue?.first?["value"]?.stringValue ?? "?")
            }
            next = SyncEngine.nextPage(bundle)
        }
        return identifiers
    }

    func close() {
        transport.closeConnections()
        store.close()
        try? FileManager.default.removeItem(at: directory)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Opens the server's SQLite file beside it and holds the write lock, as a long migration or a stuck
/// writer would: the server's writes wait, then fail with 500.
final class DatabaseWriteLock: @unchecked Sendable {
    private let queue: DatabaseQueue

    init(path: String) throws {
        var configuration = Configuration()
        // Holding a transaction open across accesses is exactly the point here.
        configuration.allowsUnsafeTransactions = true
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
    }

    func release() throws {
        try queue.inDatabase { db in try db.execute(sql: "ROLLBACK") }
        try queue.close()
    }
}
