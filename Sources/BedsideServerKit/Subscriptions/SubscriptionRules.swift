import BedsideCore
import Foundation

/// What a stored Subscription asks for, once checked: the one reading of `criteria` and `channel`, for
/// the create and update that accept it and for the dispatcher that acts on it.
struct SubscriptionSpec: Sendable {
    var criteriaType: SupportedResource
    /// The criteria's search, to be run with `ids = [<changed resource>]`.
    var query: ResourceQuery
    /// An absolute `https://` URL.
    var endpoint: String
    /// `host` or `host:port`: what the audit names (never the path or query, which may hold secrets).
    var endpointHost: String
    /// `Name: value` lines sent with each notification.
    var headers: [String]
    /// true: entries hold the full resources (`application/fhir+json`); false: ids and versions only.
    var fullResource: Bool
    var status: String
    /// `Subscription.end` (epoch ms): from then on the server turns it `off`.
    var endsAt: Int64?
}

/// The rules a Subscription must follow (docs/emr.md "Subscriptions"). Only `rest-hook` channels to
/// `https` endpoints; criteria are a search this server can run on a type the client may read.
enum SubscriptionRules {
    static let payload = "application/fhir+json"
    static let maximumHeaders = 10
    static let maximumHeaderBytes = 1_024
    static let maximumCriteriaBytes = 1_024
    static let maximumEndpointBytes = 2_048
    /// Headers the server writes itself; a Subscription may not set them.
    static let reservedHeaders: Set<String> = ["content-type", "content-length", "host", "transfer-encoding", "connection", "expect"]
    /// Search parameters that say which resources match; the rest (paging, sorting, what is shown) make
    /// no sense for a notification and are refused.
    static let criteriaFields: Set<SearchParameter.Field> = [.id, .identifier, .patient, .status, .code, .category, .canonicalURL, .clinicalDate, .lastUpdated]

    static func refuse(_ text: String, _ expression: String, code: String = "value") -> ServerError {
        .invalid(OperationOutcome(code: code, diagnostics: text, expression: expression))
    }

    /// Reads and checks a Subscription (as sent, or as stored).
    static func spec(of resource: JSONValue, now: Int64) throws(ServerError) -> SubscriptionSpec {
        guard let status = resource["status"]?.stringValue, ["requested", "active", "error", "off"].contains(status) else {
            throw refuse("Subscription.status must be requested, active, error or off.", "Subscription.status", code: "required")
        }
        guard let reason = resource["reason"]?.stringValue, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw refuse("Subscription.reason must say why the subscription exists.", "Subscription.reason", code: "required")
        }
        let (type, query) = try criteria(resource["criteria"]?.stringValue, now: now)
        guard let channel = resource["channel"], channel.objectValue != nil else {
            throw refuse("Subscription.channel is required (type rest-hook, an https endpoint).", "Subscription.channel", code: "required")
        }
        guard channel["type"]?.stringValue == "rest-hook" else {
            throw refuse("Only rest-hook channels are supported (Subscription.channel.type).", "Subscription.channel.type", code: "not-supported")
        }
        let (endpoint, host) = try endpoint(channel["endpoint"]?.stringValue)
        let fullResource: Bool
        switch channel["payload"] {
        case nil: fullResource = false
        case .string(payload)?: fullResource = true
        default:
            throw refuse(
                "Subscription.channel.payload must be application/fhir+json (the resources) or absent (ids and versions only).",
                "Subscription.channel.payload", code: "not-supported")
        }
        var endsAt: Int64?
        if let end = resource["end"] {
            guard let text = end.stringValue, text.contains("T"), let instant = FHIRDateTime(text) else {
                throw refuse("Subscription.end must be an instant with a time zone, such as 2027-06-30T00:00:00Z.", "Subscription.end")
            }
            endsAt = instant.lowerBound
        }
        return SubscriptionSpec(
            criteriaType: type, query: query, endpoint: endpoint, endpointHost: host, headers: try headers(channel["header"]),
            fullResource: fullResource, status: status, endsAt: endsAt)
    }

    /// `Type?name=value&...` (or just `Type`), parsed by the search parser every GET uses.
    static func criteria(_ text: String?, now: Int64) throws(ServerError) -> (SupportedResource, ResourceQuery) {
        let expression = "Subscription.criteria"
        guard let text, !text.isEmpty, text.utf8.count <= maximumCriteriaBytes else {
            throw refuse("Subscription.criteria is required: a search such as Observation?category=vital-signs (at most 1 KB).", expression, code: "required")
        }
        let typeName = String(text.prefix { $0 != "?" })
        guard let type = SupportedResource(rawValue: typeName), type != .subscription else {
            throw refuse("Subscription.criteria must start with a resource type this server keeps (e.g. Flag?status=active), not '\(typeName.prefix(40))'.", expression)
        }
        let queryText = text.dropFirst(typeName.count + 1)
        let parameters = SearchRequest.parameters(query: String(queryText))
        for (name, _) in parameters where !SearchRequest.ignoredParameters.contains(name) {
            guard let parameter = SearchParameter.named(name, for: type), criteriaFields.contains(parameter.field) else {
                throw refuse("Subscription.criteria cannot use '\(name.prefix(40))': only parameters that choose resources are taken (e.g. status, code, category, patient).", expression)
            }
        }
        do {
            return (type, try SearchRequest.parse(type: type, parameters: parameters, now: now))
        } catch {
            throw refuse("Subscription.criteria is not a search this server can run: \(error.outcome.issues.first?.diagnostics ?? "unreadable")", expression)
        }
    }

    static func endpoint(_ text: String?) throws(ServerError) -> (String, String) {
        let expression = "Subscription.channel.endpoint"
        guard let text, !text.isEmpty, text.utf8.count <= maximumEndpointBytes else {
            throw refuse("Subscription.channel.endpoint is required: the https URL notifications are posted to.", expression, code: "required")
        }
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased() else {
            throw refuse("Subscription.channel.endpoint must be an absolute https:// URL.", expression)
        }
        guard scheme == "https" else {
            throw refuse("Subscription.channel.endpoint must use https: notifications are never sent over plain http or any other scheme.", expression)
        }
        guard let host = url.host, !host.isEmpty else { throw refuse("Subscription.channel.endpoint names no host.", expression) }
        guard url.user == nil, url.password == nil else {
            throw refuse("Subscription.channel.endpoint must not hold credentials; send them in channel.header.", expression)
        }
        guard !text.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? false }) else {
            throw refuse("Subscription.channel.endpoint must not contain spaces or control characters.", expression)
        }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return (text, url.port.map { "\(shownHost):\($0)" } ?? shownHost)
    }

    /// Each `Name: value`, bounded, without line breaks (which would smuggle in headers of their own).
    static func headers(_ value: JSONValue?) throws(ServerError) -> [String] {
        let expression = "Subscription.channel.header"
        guard let value else { return [] }
        guard let items = value.arrayValue, items.count <= maximumHeaders else {
            throw refuse("Subscription.channel.header is a list of at most \(maximumHeaders) 'Name: value' strings.", expression)
        }
        var headers: [String] = []
        for item in items {
            guard let header = item.stringValue, header.utf8.count <= maximumHeaderBytes,
                !header.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" })
            else {
                throw refuse("Each Subscription.channel.header is one 'Name: value' line of at most \(maximumHeaderBytes) bytes.", expression)
            }
            guard let colon = header.firstIndex(of: ":") else {
                throw refuse("Each Subscription.channel.header is 'Name: value'.", expression)
            }
            let name = header[..<colon]
            let token = CharacterSet(charactersIn: "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            guard !name.isEmpty, name.unicodeScalars.allSatisfy(token.contains) else {
                throw refuse("A Subscription.channel.header name may hold letters, digits and !#$%&'*+-.^_`|~ only.", expression)
            }
            guard !reservedHeaders.contains(name.lowercased()) else {
                throw refuse("Subscription.channel.header cannot set \(name); the server writes it.", expression)
            }
            headers.append(header)
        }
        return headers
    }

    /// The Subscription as it will be stored: checked, the status the server gives it (a request to
    /// start is `active`; `off` stops; only the server sets `error`), and `error` only with that status.
    /// `current` is the stored version an update replaces.
    static func accept(_ resource: JSONValue, current: JSONValue?, principal: Principal, now: Int64) throws(ServerError) -> JSONValue {
        let spec = try spec(of: resource, now: now)
        if let client = principal.client, !client.scopes.allows(.read, on: spec.criteriaType.rawValue) {
            throw .forbidden(
                "This client's token has no scope to read \(spec.criteriaType.rawValue), so it cannot subscribe to it (e.g. system/\(spec.criteriaType.rawValue).rs).")
        }
        var object = resource.objectValue ?? JSONObject()
        let currentStatus = current?["status"]?.stringValue
        switch spec.status {
        case "requested", "active":
            // An end already past: nothing would ever be sent.
            object["status"] = (spec.endsAt ?? .max) <= now ? "off" : "active"
            object["error"] = nil
        case "off":
            object["error"] = nil
        default:
            // Sent back as read: kept in error (with the server's reason) until the client asks again.
            guard currentStatus == "error" else {
                throw refuse("Only the server sets Subscription.status to error; send requested to start, off to stop.", "Subscription.status")
            }
            object["error"] = current?["error"]
        }
        return .object(object)
    }
}
