import BedsideCore
import Foundation

/// Where a server export stands: enough to go on from there after an interruption.
public struct ServerExportPosition: Sendable, Equatable {
    /// Which of `ServerExport.types` is being fetched; `types.count` when everything came.
    public var typeIndex: Int
    /// The keyset cursor: only what changed at or after this moment (`_lastUpdated=ge`, milliseconds); nil
    /// from the start.
    public var since: Int64?
    /// The server's `next` link among resources that all changed at `since` exactly, when there are more
    /// of them than a page holds.
    public var next: String?
    /// Pages fetched so far, against a server that never stops sending `next` links.
    public var pages: Int

    public static let start = ServerExportPosition(typeIndex: 0, since: nil, next: nil, pages: 0)

    public var isDone: Bool { typeIndex >= ServerExport.types.count }

    public var json: JSONValue {
        var object: JSONObject = ["type": .number(typeIndex), "pages": .number(pages)]
        if let since { object["since"] = .number(String(since)) }
        if let next { object["next"] = .string(next) }
        return .object(object)
    }

    /// From `json`, as kept in the state file; nil when it is not one (a damaged file starts over).
    public init?(json: JSONValue) {
        guard let type = json["type"]?.numberLiteral, let typeIndex = Int(type), (0...ServerExport.types.count).contains(typeIndex),
            let pagesText = json["pages"]?.numberLiteral, let pages = Int(pagesText), pages >= 0
        else { return nil }
        var since: Int64?
        if let value = json["since"] {
            guard let parsed = Int64(value.numberLiteral) else { return nil }
            since = parsed
        }
        let next = json["next"]?.stringValue
        if let next, !ServerExport.isPagePath(next) { return nil }
        self.init(typeIndex: typeIndex, since: since, next: next, pages: pages)
    }

    public init(typeIndex: Int, since: Int64?, next: String?, pages: Int) {
        self.typeIndex = typeIndex
        self.since = since
        self.next = next
        self.pages = pages
    }
}

/// Everything the server holds for the logged-in patient (`bedside export --from-server`): their
/// Observations, then their QuestionnaireResponses, a page at a time over the sync transport.
///
/// Offset paging alone cannot be trusted for this: the reference server pages `_offset` up to 100,000
/// only, and a resource changed during the export moves to the end of a `_lastUpdated` order and shifts
/// every later offset by one. So each search is a keyset on `_lastUpdated`: sorted by it, from the newest
/// moment seen so far (`ge`, so resources of that very millisecond come again and are told apart by id),
/// and the `next` link is followed only while a whole page changed in that one millisecond. Each page
/// either moves the cursor forward or follows the server's own link, so the export always ends; a copy
/// fetched twice is kept once (the later one), which the caller does.
///
/// Everything from the server is checked: only Bundles are read, only resources of the type asked for,
/// with a valid id and this patient as their subject, are kept; answers are bounded by the transport
/// (16 MiB), and the pages of one export by `maximumPages`.
public struct ServerExport: Sendable {
    public static let types = ["Observation", "QuestionnaireResponse"]
    public static let pageSize = 1000
    /// 20,000 pages of up to 1,000: far past any patient's years of readings, and finite.
    public static let maximumPages = 20_000
    /// The longest `next` link followed.
    static let maximumLinkLength = 4096

    let api: BedsideAPI
    let token: String
    public let patientID: String
    /// The server's base, for the `fullUrl` of each resource.
    public var server: String { api.server }

    public init(api: BedsideAPI, token: String, patientID: String) {
        self.api = api
        self.token = token
        self.patientID = patientID
    }

    /// One page and where the export goes on from.
    public struct Page: Sendable {
        public var resources: [JSONValue]
        public var position: ServerExportPosition
        /// Entries left out: not of the type asked for, without a valid id, or of someone else.
        public var ignored: Int
    }

    /// How many resources the server holds for the patient (`_summary=count` of each type), or nil when
    /// it does not say. A server that cannot be reached, or that ended the session, is an error.
    public func total() async throws(APIError) -> Int? {
        var sum = 0
        for type in Self.types {
            let response = try await api.send("GET", "/fhir/\(type)?patient=\(patientID)&_summary=count", token: token)
            if response.status == 401 { throw BedsideAPI.refusal(response) }
            guard response.status == 200, let count = response.json?["total"]?.numberLiteral, let value = Int(count),
                (0...100_000_000).contains(value)
            else { return nil }
            sum += value
        }
        return sum
    }

    /// The first search of a type, from the cursor.
    func query(type: String, since: Int64?) -> String {
        var query = "/fhir/\(type)?patient=\(patientID)&_sort=_lastUpdated&_count=\(Self.pageSize)"
        if let since { query += "&_lastUpdated=ge" + FHIRDateTime.format(epochMilliseconds: since) }
        return query
    }

    /// A link this client follows: a path on this server, of bounded length.
    public static func isPagePath(_ path: String) -> Bool {
        path.hasPrefix("/fhir/") && path.utf8.count <= maximumLinkLength && !path.contains("..")
            && path.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }
    }

    /// Fetches the page at `position`.
    public func page(at position: ServerExportPosition) async throws(APIError) -> Page {
        guard !position.isDone else { return Page(resources: [], position: position, ignored: 0) }
        guard position.pages < Self.maximumPages else {
            throw .invalidResponse("the server sent more than \(Self.maximumPages) pages")
        }
        let type = Self.types[position.typeIndex]
        let response = try await api.send("GET", position.next ?? query(type: type, since: position.since), token: token)
        guard response.status == 200 else { throw BedsideAPI.refusal(response) }
        guard let bundle = response.json, bundle["resourceType"]?.stringValue == "Bundle" else {
            throw .invalidResponse("a search did not answer with a Bundle")
        }
        let entries = bundle["entry"]?.arrayValue ?? []
        let resources = entries.compactMap { $0["resource"] }.filter { belongs($0, type: type) }
        var next = position
        next.pages += 1
        let newest = resources.compactMap(\.lastUpdatedMilliseconds).max()
        if let link = SyncEngine.nextPage(bundle), Self.isPagePath(link), !entries.isEmpty {
            if let newest, newest > (position.since ?? Int64.min) {
                next.since = newest
                next.next = nil
            } else {
                next.next = link
            }
        } else {
            next = ServerExportPosition(typeIndex: position.typeIndex + 1, since: nil, next: nil, pages: next.pages)
        }
        return Page(resources: resources, position: next, ignored: entries.count - resources.count)
    }

    /// A resource of `type`, with a valid id, about this patient.
    func belongs(_ resource: JSONValue, type: String) -> Bool {
        guard resource["resourceType"]?.stringValue == type, let id = resource["id"]?.stringValue, FHIRSyntax.isValidID(id) else { return false }
        return resource["subject"]?["reference"]?.stringValue == "Patient/\(patientID)"
    }
}
