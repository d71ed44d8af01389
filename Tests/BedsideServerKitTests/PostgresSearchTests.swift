import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// PostgreSQL's own side of search: a patient's searches by code read the codes on the resource's row
/// (`resource.codes`, `categories`), filled by the store and, for what was stored before, by migration 3.
@Suite("PostgreSQL: searches by code within a patient")
struct PostgresSearchTests {
    @Test("rows written without their codes on the row (an instance on the schema before 3, mid-upgrade) are still found; migration 3 makes the store's own words")
    func rowsWithoutWords() async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-search-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let encryption = StoreEncryption.masterKey(MasterKeyFile(path: directory.appendingPathComponent("master.key").path))
        let store = try await PostgresServerStore(location: location, encryption: encryption, maximumConnections: 2)
        try await store.write { db in
            try db.put(ServerStoreContractTests.observation("o1", patient: "p1", date: 1, code: "8867-4"))
            try db.put(ServerStoreContractTests.observation("o2", patient: "p1", date: 2))
        }
        let words = { @Sendable () async throws -> [String] in
            try await store.connections.withConnection { sql in
                try sql.rows("SELECT array_to_string(codes, ' ') || '/' || array_to_string(categories, ' ') FROM resource ORDER BY id").map {
                    try PostgresSQL.decode($0[0], as: String.self, sql: "words")
                }
            }
        }
        let written = try await words()
        #expect(written.first?.contains("s16:http://loinc.org8867-4") == true, "\(written)")

        // As an instance on the previous version writes: the code tables only.
        try await store.connections.withConnection { sql in try sql.execute("UPDATE resource SET codes = '{}', categories = '{}'") }
        func found(_ tokens: [TokenSearch]) async throws -> Set<String> {
            var query = ResourceQuery(type: "Observation")
            query.patientIDs = ["p1"]
            query.codes = [tokens]
            return Set(try await store.read { [query] db in try db.search(query) }.resources.map(\.id))
        }
        #expect(try await found([TokenSearch(system: "http://loinc.org", code: "8867-4")]) == ["o1"])
        #expect(try await found([TokenSearch(system: nil, code: "29463-7")]) == ["o2"])
        #expect(try await found([TokenSearch(system: nil, code: nil)]) == ["o1", "o2"])

        // Migration 3's backfill gives back exactly what the store wrote.
        let backfill = try #require(PostgresSchema.migrations.first { $0.version == 3 }).statements.filter { $0.contains("UPDATE resource") }
        #expect(backfill.count == 2)
        try await store.connections.withConnection { sql in for statement in backfill { try sql.execute(statement) } }
        #expect(try await words() == written)
        await store.shutdown()
        await TestPostgres.shared.dropDatabase(location)
    }
}
