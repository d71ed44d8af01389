import BedsideCore

/// A storage-neutral search: what `GET /fhir/<type>?...` asks for once parsed and access-limited.
public struct ResourceQuery: Sendable, Equatable {
    public enum Comparison: String, Sendable {
        case eq, ne, gt, lt, ge, le, sa, eb
        /// Approximately: the value's range widened by `DateCondition.margin` on each side.
        case ap
    }

    /// A date condition: the stored instant compared with the range of `value`.
    public struct DateCondition: Sendable, Equatable {
        public var comparison: Comparison
        public var value: FHIRDateTime
        /// For `ap`, milliseconds added on each side: a tenth of the gap between the value and the time
        /// of the search (R4 3.1.1.4.4's recommendation), at least a minute.
        public var margin: Int64 = 0
    }

    public enum SortKey: Sendable, Equatable {
        case date(ascending: Bool)
        case lastUpdated(ascending: Bool)
        case priority(ascending: Bool)
    }

    public var type: String
    /// nil: no restriction. Empty: nothing may be returned.
    public var patientIDs: [String]?
    public var ids: [String]?
    /// `code`: each group is one parameter's values (any of them, OR); every group must match (AND).
    public var codes: [[TokenSearch]] = []
    public var identifiers: [ResourceCode]?
    /// `category`: as `codes`, over Observation.category.
    public var categories: [[TokenSearch]] = []
    public var statuses: [String]?
    public var dates: [DateCondition] = []
    public var lastUpdated: [DateCondition] = []
    public var sort: [SortKey] = []
    public var count: Int = 50
    /// A page ends early once its resources' JSON reach this many bytes (at least one is always included).
    public var byteBudget: Int = .max
    public var offset: Int = 0
    /// Keyset paging: the page starts after this row of the same search (a `next` link's `_cursor`),
    /// as fast however deep, and unmoved by what is written meanwhile before it.
    public var after: PageCursor?
    /// `_cursor` as sent (sealed): opened into `after` by the FHIR layer, which holds the keys.
    public var cursorToken: String?
    /// Patient searches only (`_has:Flag:patient:status=active`): the patients who have a resource
    /// matching each of these. Resolved into `patientIDs` before the search runs.
    public var has: [ResourceQuery] = []
    /// `_total=accurate|estimate`: the Bundle says how many match in all.
    public var wantsTotal = false
    /// `_summary=count`: only how many match, no entries.
    public var countOnly = false
    /// `_elements`: the matches are shown with only these elements (how they are written, not which).
    public var elements: Set<String>?
    /// `_include=TYPE:patient` (or `subject`, `owner`): the matches' Patients come along.
    public var includePatients = false
    /// `_revinclude=TYPE:patient` on Patient: the resources of these types that point at the matches.
    public var revinclude: [String] = []

    public init(type: String) { self.type = type }
}

/// One value of a token search parameter (R4 3.1.1.4.1): `code` (any system), `system|code`,
/// `|code` (no system) or `system|` (any code of the system).
public struct TokenSearch: Sendable, Equatable {
    /// nil: any system; empty: no system.
    public var system: String?
    /// nil: any code of `system`.
    public var code: String?

    public init(system: String?, code: String?) {
        self.system = system
        self.code = code
    }

    /// A code of a system, exactly.
    public static func code(_ code: String, system: String) -> TokenSearch { TokenSearch(system: system, code: code) }
}

/// A page of search results.
public struct ResourcePage: Sendable {
    public var resources: [StoredResource]
    /// Whether there are more after this page.
    public var hasMore: Bool
    /// Where the next page starts (set when `hasMore`).
    public var next: PageCursor?
    /// How many match in all, when `_total` or `_summary=count` asked.
    public var total: Int?
    /// Resources that `_include` or `_revinclude` brought along (search mode `include`).
    public var included: [StoredResource] = []

    public init(resources: [StoredResource], hasMore: Bool, total: Int? = nil) {
        self.resources = resources
        self.hasMore = hasMore
        self.total = total
    }

    /// A page of at most `query.count` resources and about `query.byteBudget` bytes (always at least
    /// one), taken from `next` (which the store fed one more row than a page holds, to know if more
    /// follow), each with its row key.
    static func filling(_ query: ResourceQuery, from next: () throws -> (StoredResource, key: Int64)?) rethrows -> ResourcePage {
        var resources: [StoredResource] = []
        var lastKey: Int64 = 0
        var bytes = 0
        while let (stored, key) = try next() {
            // Past the page or past its byte budget: what is left is on the next page.
            if resources.count == query.count || (!resources.isEmpty && bytes + stored.json.count > query.byteBudget) {
                var page = ResourcePage(resources: resources, hasMore: true)
                page.next = resources.last.map { PageCursor(after: $0, key: lastKey, sort: query.sort) }
                return page
            }
            bytes += stored.json.count
            resources.append(stored)
            lastKey = key
        }
        return ResourcePage(resources: resources, hasMore: false)
    }
}

/// Where a page of a search ended: its last row's sort values (one per sort key) and row key. Both
/// stores order by the sort keys, NULL first ascending and last descending, then by row key.
public struct PageCursor: Sendable, Equatable {
    public var sortValues: [Int64?]
    public var key: Int64

    public init(sortValues: [Int64?], key: Int64) {
        self.sortValues = sortValues
        self.key = key
    }

    init(after resource: StoredResource, key: Int64, sort: [ResourceQuery.SortKey]) {
        self.init(sortValues: sort.map { sortKey in
            switch sortKey {
            case .date: resource.date
            case .lastUpdated: resource.lastUpdated
            case .priority: resource.priority.map(Int64.init)
            }
        }, key: key)
    }

    /// The SQL condition "comes after this row" in `sort`'s order, then `pk` ascending (the same text for
    /// both stores, `?` placeholders), with its values. Nil when the cursor has not one value per key.
    func condition(sort: [ResourceQuery.SortKey]) -> (String, [Int64])? {
        guard sortValues.count == sort.count else { return nil }
        var columns: [(name: String, ascending: Bool, value: Int64?)] = zip(sort, sortValues).map { key, value in
            switch key {
            case .date(let ascending): ("date", ascending, value)
            case .lastUpdated(let ascending): ("last_updated", ascending, value)
            case .priority(let ascending): ("priority", ascending, value)
            }
        }
        columns.append(("pk", true, key))
        var alternatives: [String] = []
        var values: [Int64] = []
        var same: [String] = []
        var sameValues: [Int64] = []
        for column in columns {
            // Strictly after at this column, the ones before it equal.
            let later: String?
            var laterValues: [Int64] = []
            switch (column.ascending, column.value) {
            case (true, nil): later = "\(column.name) IS NOT NULL"
            case (true, let value?): later = "\(column.name) > ?"; laterValues = [value]
            case (false, nil): later = nil
            case (false, let value?): later = "(\(column.name) < ? OR \(column.name) IS NULL)"; laterValues = [value]
            }
            if let later {
                alternatives.append("(" + (same + [later]).joined(separator: " AND ") + ")")
                values += sameValues + laterValues
            }
            if let value = column.value {
                same.append("\(column.name) = ?")
                sameValues.append(value)
            } else {
                same.append("\(column.name) IS NULL")
            }
        }
        var condition = "(" + alternatives.joined(separator: " OR ") + ")"
        // The first key's bound on its own as well, so an index on it starts there.
        if let first = columns.first, first.ascending, let value = first.value {
            condition = "\(first.name) >= ? AND " + condition
            values.insert(value, at: 0)
        }
        return (condition, values)
    }

    /// As it travels in a `next` link's `_cursor`: `c1.<key>.<value>…`, `n` for a missing value.
    public var token: String {
        (["c1", String(key)] + sortValues.map { $0.map(String.init) ?? "n" }).joined(separator: ".")
    }

    /// A `_cursor` as this server wrote it, or nil.
    public init?(token: String) {
        guard token.utf8.count <= 200 else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 12, parts[0] == "c1", let key = Int64(parts[1]) else { return nil }
        var values: [Int64?] = []
        for part in parts.dropFirst(2) {
            if part == "n" {
                values.append(nil)
            } else if let value = Int64(part) {
                values.append(value)
            } else {
                return nil
            }
        }
        self.init(sortValues: values, key: key)
    }
}
