import BedsideCore
import BedsideVault
import Foundation
import GRDB
import Testing

@testable import BedsideStore

@Suite("Resource cache")
struct ResourceCacheTests {
    func task(_ id: String, version: Int, note: String = "Daily weight") -> JSONValue {
        ["resourceType": "Task", "id": .string(id), "meta": ["versionId": .string(String(version))], "status": "requested",
         "description": .string(note)]
    }

    @Test("cached assignments round-trip by id and version; replacing drops the ones the server no longer lists")
    func roundTrip() throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try store.cache([task("t1", version: 1), task("t2", version: 4)], replacingAllOf: "Task")
        #expect(try store.cachedVersions(type: "Task") == ["t1": 1, "t2": 4])
        try store.cache([task("t2", version: 5, note: "Changed")], replacingAllOf: "Task")
        let cached = try store.cachedResources(type: "Task")
        #expect(cached.map(\.id) == ["t2"])
        #expect(cached.first?.version == 5)
        #expect(cached.first?.resource["description"]?.stringValue == "Changed")
        try store.uncache(type: "Task", ids: ["t2"])
        #expect(try store.cachedResources(type: "Task").isEmpty)
    }

    @Test("a cached assignment's server id and text never reach a file in clear")
    func sealedIDs() throws {
        let fixture = try StoreFixture()
        let taskID = "TASKID-8d21c0e4-cache-sentinel"
        let text = "SENTINEL-TASK-TEXT-4411"
        try fixture.store.cache([task(taskID, version: 2, note: text)], replacingAllOf: "Task")
        for secret in [taskID, text] {
            for form in encodings(of: secret) {
                for (name, bytes) in try fixture.allBytes() {
                    #expect(bytes.range(of: form) == nil, "\(secret) leaked into \(name)")
                }
            }
        }
        #expect(try fixture.store.cachedVersions(type: "Task") == [taskID: 2])
    }

    @Test("a sealed id moved to another row fails to open")
    func relocatedID() throws {
        let fixture = try StoreFixture()
        try fixture.store.cache([task("t1", version: 1), task("t2", version: 1)])
        try fixture.store.pool.write { db in
            let indexes = try Data.fetchAll(db, sql: "SELECT id_index FROM resource_cache ORDER BY id_index")
            try db.execute(
                sql: "UPDATE resource_cache SET server_id = (SELECT server_id FROM resource_cache WHERE id_index = ?) WHERE id_index = ?",
                arguments: [indexes[0], indexes[1]])
        }
        #expect(throws: StoreError.vault(.tampered("resource_cache.server_id"))) { try fixture.store.cachedVersions(type: "Task") }
    }

    @Test("a cache written before ids were sealed is moved over on opening: nothing lost, no id left in clear")
    func migratesClearIDs() throws {
        let fixture = try StoreFixture()
        let directory = fixture.directory.deletingLastPathComponent().appendingPathComponent("older")
        try SecureFiles.makePrivateDirectory(directory)
        let taskID = "TASKID-older-clear-5e0f"
        do {
            let pool = try DatabasePool(path: directory.appendingPathComponent(ClientStore.fileName).path)
            try ClientMigrations.migrator(store: fixture.store).migrate(pool, upTo: "v3: questionnaire responses (drafts and sent answers)")
            let sealed = try fixture.vault.seal(Array(task(taskID, version: 3).serialized()), table: "resource_cache", rowID: "Task/\(taskID)", column: "data")
            let garbage = try fixture.vault.seal(Array("{}".utf8), table: "resource_cache", rowID: "Task/other", column: "data")
            try pool.write { db in
                try db.execute(sql: "INSERT INTO resource_cache (type, id, version, data) VALUES ('Task', ?, 3, ?)", arguments: [taskID, Data(sealed)])
                // Sealed for another row: does not open, so it is dropped (the next pull brings it back).
                try db.execute(sql: "INSERT INTO resource_cache (type, id, version, data) VALUES ('Task', 'moved', 1, ?)", arguments: [Data(garbage)])
            }
            try pool.close()
        }
        let reopened = try ClientStore(directory: directory, vault: fixture.vault)
        defer { reopened.close() }
        #expect(try reopened.cachedVersions(type: "Task") == [taskID: 3])
        #expect(try reopened.cachedResources(type: "Task").first?.resource["id"]?.stringValue == taskID)
        let columns = try reopened.pool.read { db in try db.columns(in: "resource_cache").map(\.name) }
        #expect(!columns.contains("id"))
        // Freed pages are zeroed (secure_delete): once the log is written back, no file holds the id.
        try reopened.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            let bytes = try Data(contentsOf: directory.appendingPathComponent(name))
            #expect(bytes.range(of: Data(taskID.utf8)) == nil, "\(taskID) left in \(name)")
        }
    }
}
