import BedsideCore

/// A Bulk Data kick-off (`$export`, Bulk Data Access IG 2.0) once checked: what to export, for whom.
/// Stored with its job as JSON, so a job the server restarts in the middle of runs again the same way.
struct ExportRequest: Sendable, Equatable {
    enum Level: Sendable, Equatable {
        /// `GET /fhir/$export`: every resource of the types.
        case system
        /// `GET /fhir/Patient/$export`: every patient's compartment.
        case patient
        /// `GET /fhir/Group/[id]/$export`: the compartments of the group's members.
        case group(id: String)
    }

    var level: Level
    /// The types to export, in the order their files are written.
    var types: [SupportedResource]
    /// `_since`: only resources changed after this instant (epoch milliseconds).
    var since: Int64?
    /// The kick-off URL as the client sent it (path and query), for the manifest's `request`.
    var requestURL: String

    /// The output formats Bulk Data names for NDJSON (`_outputFormat`).
    static let ndjsonFormats: Set<String> = ["application/fhir+ndjson", "application/ndjson", "ndjson"]
    /// Parameters of the IG this server does not implement: refused rather than ignored, since an
    /// export that silently ignored a filter would hand over more data than asked for.
    static let unsupportedParameters: Set<String> = ["_typeFilter", "_elements", "patient", "includeAssociatedData", "_until"]

    /// Checks a kick-off: only backend clients export, only types their scopes let them read, and only
    /// asynchronously (`Prefer: respond-async`).
    static func parse(
        level: Level, parameters: [(String, String)], prefer: String?, requestURL: String, principal: Principal
    ) throws(ServerError) -> ExportRequest {
        guard let client = principal.client else {
            throw .forbidden("Bulk Data export is for backend clients (SMART Backend Services) with system scopes; sign in as one.")
        }
        let preferences = (prefer ?? "").lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard preferences.contains("respond-async") else {
            throw .badRequest("$export runs asynchronously: send the header Prefer: respond-async.")
        }
        var names: [String]?
        var since: Int64?
        for (name, value) in parameters {
            switch name {
            case "_type":
                let listed = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                names = (names ?? []) + listed
            case "_since":
                guard let instant = FHIRDateTime(value), value.contains("T") else {
                    throw .badRequest("_since must be an instant such as 2026-12-01T00:00:00Z.", expression: "_since")
                }
                since = instant.lowerBound
            case "_outputFormat":
                guard ndjsonFormats.contains(value.lowercased()) else {
                    throw .badRequest("_outputFormat must be application/fhir+ndjson, the only format this server writes.", expression: "_outputFormat")
                }
            case "_format", "_pretty": break
            default:
                if unsupportedParameters.contains(name) {
                    throw .badRequest("\(name) is not supported by this server's $export; leave it out.", expression: name)
                }
                throw .badRequest("\(name.prefix(40)) is not a $export parameter (use _type, _since, _outputFormat).", expression: String(name.prefix(40)))
            }
        }
        // What may be in the export at this level: a compartment export holds compartment types only.
        // Subscriptions are delivery settings (their headers hold the receiver's secrets), not data to hand over.
        let candidates = SupportedResource.allCases.filter { $0 != .subscription && (level == .system || $0.isPatientData) }
        var types: [SupportedResource]
        if let names {
            types = []
            for name in names {
                guard let type = SupportedResource(rawValue: name), candidates.contains(type) else {
                    let level = level == .system ? "" : " in a patient's compartment"
                    throw .badRequest("_type names \(name.prefix(40)), not a type this server exports\(level).", expression: "_type")
                }
                guard Self.mayExport(type, scopes: client.scopes) else {
                    throw .forbidden("This client's token has no scope to read and search \(type.rawValue) (e.g. system/\(type.rawValue).rs), so it cannot export it.")
                }
                if !types.contains(type) { types.append(type) }
            }
        } else {
            types = candidates.filter { Self.mayExport($0, scopes: client.scopes) }
        }
        guard !types.isEmpty else {
            throw .forbidden("This client's token has no scope to read any type this export would hold.")
        }
        return ExportRequest(level: level, types: types, since: since, requestURL: requestURL)
    }

    /// An export hands over every resource of a type, as paging through a search would: it takes both
    /// the read and the search permission (`system/Observation.rs`), not read by id alone.
    static func mayExport(_ type: SupportedResource, scopes: SMARTScopes) -> Bool {
        scopes.allows(.read, on: type.rawValue) && scopes.allows(.search, on: type.rawValue)
    }

    // MARK: Stored form

    var json: JSONValue {
        var object: JSONObject = [
            "types": .array(types.map { .string($0.rawValue) }),
            "request": .string(requestURL),
        ]
        switch level {
        case .system: object["level"] = "system"
        case .patient: object["level"] = "patient"
        case .group(let id):
            object["level"] = "group"
            object["group"] = .string(id)
        }
        if let since { object["since"] = .string(String(since)) }
        return .object(object)
    }

    init(level: Level, types: [SupportedResource], since: Int64?, requestURL: String) {
        self.level = level
        self.types = types
        self.since = since
        self.requestURL = requestURL
    }

    /// A stored request; nil when it cannot be read (the job then fails rather than exporting something else).
    init?(json: JSONValue) {
        guard let request = json["request"]?.stringValue, let names = json["types"]?.arrayValue else { return nil }
        let types = names.compactMap { $0.stringValue.flatMap(SupportedResource.init(rawValue:)) }
        guard types.count == names.count else { return nil }
        switch json["level"]?.stringValue {
        case "system": level = .system
        case "patient": level = .patient
        case "group":
            guard let id = json["group"]?.stringValue else { return nil }
            level = .group(id: id)
        default: return nil
        }
        self.types = types
        self.requestURL = request
        self.since = json["since"]?.stringValue.flatMap(Int64.init)
    }
}
