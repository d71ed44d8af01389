/// What a GET answers, for a plain request and a batch entry alike: the body and its validators, or only
/// the validators when the client's copy is current (304).
public struct ReadAnswer: Sendable {
    /// `W/"<versionId>"` for a resource, `W/"search-<hex>"` for a searchset (see `ETag.searchset`).
    public var etag: String
    /// Epoch milliseconds; a resource's `meta.lastUpdated`. None for a searchset, which has no single one.
    public var lastModified: Int64?
    /// The resource or searchset Bundle as JSON; nil when `If-None-Match` named `etag` (304 Not Modified).
    public var body: [UInt8]?

    public var notModified: Bool { body == nil }
    public var status: Int { notModified ? 304 : 200 }
}
