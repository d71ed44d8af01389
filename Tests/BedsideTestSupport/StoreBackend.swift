import BedsideServerKit
import Foundation

/// The two homes of the server's data, for tests that must pass on both.
public enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// A new, empty store of this kind, and what removes it.
    public func makeStore() async throws -> (store: any ServerStore, remove: @Sendable () async -> Void) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encryption = StoreEncryption.masterKey(MasterKeyFile(path: directory.appendingPathComponent("master.key").path))
        switch self {
        case .sqlite:
            let store = try SQLiteServerStore(path: directory.appendingPathComponent("bedside-server.sqlite").path, encryption: encryption)
            return (store, {
                try? store.close()
                try? FileManager.default.removeItem(at: directory)
            })
        case .postgres:
            let location = try await TestPostgres.shared.makeDatabase()
            let store = try await PostgresServerStore(location: location, encryption: encryption, maximumConnections: 4)
            return (store, {
                try? store.close()
                await TestPostgres.shared.dropDatabase(location)
                try? FileManager.default.removeItem(at: directory)
            })
        }
    }
}
