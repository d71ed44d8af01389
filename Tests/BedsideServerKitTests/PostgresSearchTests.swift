import BedsideCore
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// PostgreSQL's own side of search: a patient's searches by code read the codes on the resource's row
/// (`resource.codes`, `categories`), filled by the store and, for what was stored before, by migration 3.
@Suite("PostgreSQL: searches by code within a patient")
struct PostgresSearchTests {
    /// A PostgreSQL store in a fresh database of the shared test cluster, removed afterwards.
    func withStore(_ body: (PostgresServerStore) async throws -> Void) async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-search-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let encryption = StoreEncryption.masterKey(MasterKeyFile(path: directory.appendingPathComponent("master.key").path))
        let store = try await PostgresServerStore(location: location, encryption: encryption, maximumConnections: 2)
        do {
            try await body(store)
        } catch {
            await store.shutdown()
            await TestPostgres.shared.dropDatabase(location)
            throw error
        }
        await store.shutdown()
        await TestPostgres.shared.dropDatabase(location)
    }

    @Test("rows written without their codes on the row (an instance on the schema before 3, mid-upgrade) are still found; migration 3 makes the store's own words")
    func rowsWithoutWords() async throws {
        try await withStore { store in
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
        }
    }

    @Test("a patient's page newest first, oldest first, past a cursor or within 90 days is read in the index's order: the patient's matches are not all read and sorted")
    func pagesInIndexOrder() async throws {
        try await withStore { store in
            // Two patients with 2,000 readings each over 200 days, one in ten without a date.
            let day: Int64 = 86_400_000
            let start: Int64 = 1_780_000_000_000
            try await store.write { db in
                for patient in ["p1", "p2"] {
                    for index in 0..<2_000 {
                        let date = index % 10 == 0 ? nil : start + Int64(index) * day / 10
                        try db.put(ServerStoreContractTests.observation("\(patient)-\(index)", patient: patient, date: date))
                    }
                }
            }
            try await store.connections.withConnection { sql in try sql.execute("ANALYZE resource") }
            var newest = ResourceQuery(type: "Observation")
            newest.patientIDs = ["p1"]
            newest.sort = [.date(ascending: false)]
            var oldest = newest
            oldest.sort = [.date(ascending: true)]
            var pastCursor = newest
            pastCursor.after = PageCursor(sortValues: [start + 100 * day], key: 1_000)
            var recent = newest
            recent.dates = [.init(comparison: .ge, value: try #require(FHIRDateTime(FHIRDateTime.format(epochMilliseconds: start + 110 * day, utcOffsetSeconds: 0))))]
            for (name, query) in [("newest first", newest), ("oldest first", oldest), ("past a cursor", pastCursor), ("within 90 days", recent)] {
                let plan = try await store.read { db in
                    guard let session = db as? PostgresStoreSession, let (statement, values) = session.searchStatement(query) else { return [String]() }
                    return try session.strings("EXPLAIN " + statement, values)
                }
                let text = plan.joined(separator: "\n")
                #expect(text.contains("resource_patient_date_desc"), "\(name):\n\(text)")
                // An incremental sort orders rows of one date by their key, as the index hands them over.
                #expect(!plan.contains { $0.contains("Sort  (") && !$0.contains("Incremental Sort") }, "\(name):\n\(text)")
            }
        }
    }
}
