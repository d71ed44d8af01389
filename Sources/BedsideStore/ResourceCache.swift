import BedsideCore
import Foundation
import GRDB

/// Resources the server sends down and the app keeps for offline use: the patient's assignments (Task)
/// and the questionnaires and value sets they point at. Each is sealed whole (it names the patient), and
/// so is its server id (a Task's id identifies the patient's assignment on the server). In clear are
/// only the type, a blind index of the id (to find and replace a row) and the version, which the pull
/// needs for `If-None-Match`.
extension ClientStore {
    public struct CachedResource: Sendable, Equatable {
        public var type: String
        public var id: String
        public var version: Int
        public var resource: JSONValue
    }

    static let cacheTable = "resource_cache"

    /// The blind index that finds a cached resource by its server id.
    func cacheIndex(type: String, id: String) throws(StoreError) -> Data {
        do {
            return Data(try vault.blindIndex("\(type)/\(id)", domain: "resource_cache.id"))
        } catch {
            throw .vault(error)
        }
    }

    /// The row a sealed cache value is bound to: its type and the index of its id (never the id itself).
    static func cacheRowID(type: String, index: Data) -> String {
        "\(type)/" + index.map { String(format: "%02x", $0) }.joined()
    }

    /// The version of each cached resource of `type`, by id.
    public func cachedVersions(type: String) throws(StoreError) -> [String: Int] {
        let rows = try read { db in
            try Row.fetchAll(db, sql: "SELECT id_index, server_id, version FROM resource_cache WHERE type = ?", arguments: [type])
        }
        var versions: [String: Int] = [:]
        for row in rows {
            let rowID = Self.cacheRowID(type: type, index: row["id_index"])
            versions[try openText(row["server_id"], rowID: rowID, column: "server_id")] = row["version"]
        }
        return versions
    }

    public func cachedResources(type: String) throws(StoreError) -> [CachedResource] {
        let rows = try read { db in
            try Row.fetchAll(db, sql: "SELECT id_index, server_id, version, data FROM resource_cache WHERE type = ?", arguments: [type])
        }
        var resources: [CachedResource] = []
        for row in rows {
            let rowID = Self.cacheRowID(type: type, index: row["id_index"])
            let id = try openText(row["server_id"], rowID: rowID, column: "server_id")
            let bytes = try open(row["data"], table: Self.cacheTable, id: rowID, column: "data")
            guard let resource = JSONParser.parseOrNil(bytes) else { throw .vault(.tampered("resource_cache.data")) }
            resources.append(CachedResource(type: type, id: id, version: row["version"], resource: resource))
        }
        return resources.sorted { $0.id < $1.id }
    }

    /// Stores or replaces resources as the server sent them. With `replacingAllOf`, cached resources of
    /// that type that are not among them are removed (an assignment that is done or withdrawn).
    public func cache(_ resources: [JSONValue], replacingAllOf replacedType: String? = nil) throws(StoreError) {
        var rows: [CacheRow] = []
        for resource in resources {
            guard let type = resource["resourceType"]?.stringValue, let id = resource["id"]?.stringValue else { continue }
            let version = resource["meta"]?["versionId"]?.stringValue.flatMap { Int($0) } ?? 0
            rows.append(try sealedRow(type: type, id: id, version: version, resource: resource.serialized()))
        }
        try write { db in
            if let replacedType {
                let keep = Set(rows.filter { $0.type == replacedType }.map(\.index))
                let held = try Data.fetchAll(db, sql: "SELECT id_index FROM resource_cache WHERE type = ?", arguments: [replacedType])
                for index in held where !keep.contains(index) {
                    try db.execute(sql: "DELETE FROM resource_cache WHERE type = ? AND id_index = ?", arguments: [replacedType, index])
                }
            }
            for row in rows { try row.insert(db) }
        }
    }

    /// Forgets cached resources of `type` (gone from the server, or no longer referenced).
    public func uncache(type: String, ids: [String]) throws(StoreError) {
        guard !ids.isEmpty else { return }
        var indexes: [Data] = []
        for id in ids { indexes.append(try cacheIndex(type: type, id: id)) }
        try write { db in
            for index in indexes { try db.execute(sql: "DELETE FROM resource_cache WHERE type = ? AND id_index = ?", arguments: [type, index]) }
        }
    }

    /// One cache row ready to write: everything sealed to its row.
    struct CacheRow {
        var type: String
        var index: Data
        var serverID: Data
        var version: Int
        var data: Data

        func insert(_ db: Database) throws {
            try db.execute(
                sql: "INSERT OR REPLACE INTO resource_cache (type, id_index, server_id, version, data) VALUES (?, ?, ?, ?, ?)",
                arguments: [type, index, serverID, version, data])
        }
    }

    func sealedRow(type: String, id: String, version: Int, resource: [UInt8]) throws(StoreError) -> CacheRow {
        let index = try cacheIndex(type: type, id: id)
        let rowID = Self.cacheRowID(type: type, index: index)
        return CacheRow(
            type: type, index: index,
            serverID: try seal(Array(id.utf8), table: Self.cacheTable, id: rowID, column: "server_id"),
            version: version,
            data: try seal(resource, table: Self.cacheTable, id: rowID, column: "data"))
    }

    private func openText(_ data: Data, rowID: String, column: String) throws(StoreError) -> String {
        let bytes = try open(data, table: Self.cacheTable, id: rowID, column: column)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .vault(.tampered("resource_cache.\(column)")) }
        return text
    }

    /// Moves a cache written before server ids were sealed (version 3's `resource_cache`, id in clear)
    /// to the sealed layout. A row that no longer opens is dropped: it is a copy of the server's, and the
    /// next pull fetches it again.
    static func resealCache(_ db: Database, store: (String, String, Int, [UInt8]) throws(StoreError) -> CacheRow, open: (Data, String) throws(StoreError) -> [UInt8]) throws {
        let old = try Row.fetchAll(db, sql: "SELECT type, id, version, data FROM resource_cache_v3")
        for row in old {
            let type: String = row["type"]
            let id: String = row["id"]
            guard let bytes = try? open(row["data"], "\(type)/\(id)") else { continue }
            try store(type, id, row["version"], bytes).insert(db)
        }
    }
}
