import BedsideCore
import Foundation
import GRDB

/// Resources the server sends down and the app keeps for offline use: the patient's assignments (Task)
/// and the questionnaires they point at. Each is sealed whole (it names the patient); in clear are only
/// its type, its server id and its version, which the pull needs for `If-None-Match`.
extension ClientStore {
    public struct CachedResource: Sendable, Equatable {
        public var type: String
        public var id: String
        public var version: Int
        public var resource: JSONValue
    }

    private func rowID(_ type: String, _ id: String) -> String { "\(type)/\(id)" }

    /// The version of each cached resource of `type`, by id.
    public func cachedVersions(type: String) throws(StoreError) -> [String: Int] {
        let rows = try read { db in try Row.fetchAll(db, sql: "SELECT id, version FROM resource_cache WHERE type = ?", arguments: [type]) }
        var versions: [String: Int] = [:]
        for row in rows { versions[row["id"]] = row["version"] }
        return versions
    }

    public func cachedResources(type: String) throws(StoreError) -> [CachedResource] {
        let rows = try read { db in try Row.fetchAll(db, sql: "SELECT id, version, data FROM resource_cache WHERE type = ? ORDER BY id", arguments: [type]) }
        var resources: [CachedResource] = []
        for row in rows {
            let id: String = row["id"]
            let bytes = try open(row["data"], table: "resource_cache", id: rowID(type, id), column: "data")
            guard let resource = JSONParser.parseOrNil(bytes) else { throw .vault(.tampered("resource_cache.data")) }
            resources.append(CachedResource(type: type, id: id, version: row["version"], resource: resource))
        }
        return resources
    }

    /// Stores or replaces resources as the server sent them. With `replacingAllOf`, cached resources of
    /// that type that are not among them are removed (an assignment that is done or withdrawn).
    public func cache(_ resources: [JSONValue], replacingAllOf replacedType: String? = nil) throws(StoreError) {
        var rows: [(String, String, Int, Data)] = []
        for resource in resources {
            guard let type = resource["resourceType"]?.stringValue, let id = resource["id"]?.stringValue else { continue }
            let version = resource["meta"]?["versionId"]?.stringValue.flatMap { Int($0) } ?? 0
            rows.append((type, id, version, try seal(resource.serialized(), table: "resource_cache", id: rowID(type, id), column: "data")))
        }
        try write { db in
            if let replacedType {
                let keep = rows.filter { $0.0 == replacedType }.map(\.1)
                let placeholders = keep.map { _ in "?" }.joined(separator: ",")
                let sql = "DELETE FROM resource_cache WHERE type = ?" + (keep.isEmpty ? "" : " AND id NOT IN (\(placeholders))")
                try db.execute(sql: sql, arguments: StatementArguments([replacedType] + keep))
            }
            for (type, id, version, data) in rows {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO resource_cache (type, id, version, data) VALUES (?, ?, ?, ?)",
                    arguments: [type, id, version, data])
            }
        }
    }

    /// Forgets cached resources of `type` (gone from the server, or no longer referenced).
    public func uncache(type: String, ids: [String]) throws(StoreError) {
        guard !ids.isEmpty else { return }
        try write { db in
            for id in ids { try db.execute(sql: "DELETE FROM resource_cache WHERE type = ? AND id = ?", arguments: [type, id]) }
        }
    }
}
