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
    /// one), taken from `next` (which the store fed one more row than a page holds, to know if more follow).
    static func filling(_ query: ResourceQuery, from next: () throws -> StoredResource?) rethrows -> ResourcePage {
        var resources: [StoredResource] = []
        var bytes = 0
        while let stored = try next() {
            // Past the page or past its byte budget: what is left is on the next page.
            if resources.count == query.count || (!resources.isEmpty && bytes + stored.json.count > query.byteBudget) {
                return ResourcePage(resources: resources, hasMore: true)
            }
            bytes += stored.json.count
            resources.append(stored)
        }
        return ResourcePage(resources: resources, hasMore: false)
    }
}
