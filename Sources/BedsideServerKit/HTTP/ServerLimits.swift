import BedsideCore

/// Every bound the server keeps so that one request cannot cost without limit: the one place they are
/// set, read by the code that enforces each and written into the CapabilityStatement and docs/limits.md.
/// A request past a limit gets an OperationOutcome (`too-costly`, `structure` or `required`) and changes
/// nothing.
public enum ServerLimits {
    /// Request body, in bytes (413); the login endpoints' bodies (a name and a password, a code).
    public static let bodyBytes = 1 << 20
    public static let authBodyBytes = 4 << 10
    /// Shape of a body once parsed (413).
    public static let resourceShape = JSONLimits.resource
    /// Search page size: `_count` when not given, and the most it may ask for.
    public static let defaultPageSize = 50
    public static let maximumPageSize = 1000
    /// A search page stops early (with a `next` link) once its resources reach this many bytes.
    public static let pageBytes = 8 << 20
    /// How far `_offset` may page; beyond it, narrow the search (e.g. by `_lastUpdated`) (400).
    public static let maximumOffset = 100_000
    /// Search parameters in one query, and comma-separated values in one parameter (400).
    public static let searchParameters = 40
    public static let valuesPerParameter = 100
    /// Entries in a batch (GETs) and in a transaction (writes) (413).
    public static let batchEntries = 100
    public static let transactionEntries = 500
    /// A batch's answer: entries past this many bytes are answered `too-costly`, to be asked again.
    public static let batchResponseBytes = 32 << 20
    /// What a resource is found by (an identifier's system and value, a coding's system and code, a
    /// canonical url): each at most this many bytes of UTF-8, so that it fits an index entry on either
    /// backend (422 `too-long`).
    public static let indexedValueBytes = 1_024

    /// The limits in words, for the CapabilityStatement.
    public static var summary: String {
        let shape = resourceShape
        let connection = ConnectionLimits()
        return """
            Limits: bodies up to \(bodyBytes) bytes (\(authBodyBytes) at /auth), nested at most \(shape.maximumDepth) levels, at most \(shape.maximumMembers) \
            members per object, \(shape.maximumElements) elements per array and \(shape.maximumValues) values in all. Searches: \
            _count \(defaultPageSize) by default and at most \(maximumPageSize), a page stops early at \(pageBytes) bytes, _offset \
            at most \(maximumOffset), at most \(searchParameters) parameters of at most \(valuesPerParameter) values each. \
            Batches hold at most \(batchEntries) entries (an answer past \(batchResponseBytes) bytes answers the rest too-costly), \
            transactions at most \(transactionEntries). Identifiers, codings' systems and codes, and canonical urls at most \
            \(indexedValueBytes) bytes each. Connections: TLS handshake and first request head within \
            \(connection.firstRequestSeconds) s, a body within \(connection.bodySeconds) s, \(connection.idleSeconds) s idle between \
            requests, at most \(connection.connectionsPerAddress) per client address. Over a limit: an OperationOutcome, nothing changed.
            """
    }
}
