/// Every search parameter the server takes, in one table: `SearchRequest` parses by it, the
/// CapabilityStatement lists it, and each parameter's `field` names the part of `ResourceQuery` (and
/// so the indexed SQL column) it narrows. A new parameter is one row here and, if it needs one, a
/// new field.
struct SearchParameter: Sendable {
    /// Which part of the query a parameter sets.
    enum Field: Sendable {
        case id, lastUpdated, count, offset, cursor, sort, identifier
        /// `_summary`: `count` (how many, no entries) or `false` (the resources, as without it).
        case summary
        /// `_total`: `accurate` or `estimate` fill Bundle.total (exactly, both); `none` leaves it out.
        case total
        /// `_elements=a,b`: only these elements of each match (and those FHIR requires), tagged SUBSETTED.
        case elements
        /// `_include=TYPE:patient`: the matches' Patients along with them.
        case include
        /// `_revinclude=TYPE:patient` on Patient: what points at the matching patients.
        case revinclude
        /// `patient`, `subject`, `owner`: the patient's compartment.
        case patient
        case status
        case code
        /// Observation.category, `system|code` or `code`.
        case category
        /// A canonical url, with or without `|version`.
        case canonicalURL
        /// The clinically relevant time (`date`, `authored`).
        case clinicalDate
    }

    let name: String
    /// The FHIR SearchParamType, as the CapabilityStatement says it.
    let type: String
    let field: Field
    let documentation: String
    /// The resource types that take it; nil for the common ones every type takes.
    let resources: Set<SupportedResource>?
    /// Listed in the CapabilityStatement (`_offset` and `_cursor` work, but clients follow the server's
    /// next links rather than build them).
    var advertised = true

    static let table: [SearchParameter] = [
        SearchParameter(name: "_id", type: "token", field: .id, documentation: "Logical id", resources: nil),
        SearchParameter(
            name: "_lastUpdated", type: "date", field: .lastUpdated,
            documentation: "When the resource last changed (prefixes eq, ne, gt, lt, ge, le, sa, eb, ap)", resources: nil),
        SearchParameter(name: "identifier", type: "token", field: .identifier, documentation: "system|value", resources: nil),
        SearchParameter(
            name: "_count", type: "number", field: .count,
            documentation: "Page size (default \(ServerLimits.defaultPageSize), at most \(ServerLimits.maximumPageSize)); follow the Bundle's next link for more",
            resources: nil),
        SearchParameter(name: "_offset", type: "number", field: .offset, documentation: "Where a page starts, counted", resources: nil, advertised: false),
        SearchParameter(
            name: "_cursor", type: "special", field: .cursor, documentation: "Where a page starts (the next link's)", resources: nil, advertised: false),
        SearchParameter(name: "_sort", type: "special", field: .sort, documentation: "Sort order", resources: nil),
        SearchParameter(
            name: "_summary", type: "token", field: .summary, documentation: "count: only Bundle.total, no entries; false: as without it",
            resources: nil),
        SearchParameter(
            name: "_total", type: "token", field: .total, documentation: "accurate or estimate: Bundle.total, counted exactly; none: left out",
            resources: nil),
        SearchParameter(
            name: "_elements", type: "special", field: .elements,
            documentation: "Comma-separated element names: each match holds only those (with id, meta and its required elements), tagged SUBSETTED",
            resources: nil),
        SearchParameter(
            name: "_include", type: "special", field: .include,
            documentation: "TYPE:patient (or subject, owner): the matches' Patients come along, search mode include",
            resources: [.observation, .questionnaireResponse, .task, .flag]),
        SearchParameter(
            name: "_revinclude", type: "special", field: .revinclude,
            documentation: "TYPE:patient (Observation, QuestionnaireResponse, Task or Flag): what points at the matching patients, up to 1000",
            resources: [.patient]),
        SearchParameter(
            name: "patient", type: "reference", field: .patient, documentation: "Patient/<id> or <id>",
            resources: [.observation, .questionnaireResponse, .task, .flag, .careTeam]),
        SearchParameter(
            name: "subject", type: "reference", field: .patient, documentation: "Patient/<id> or <id>",
            resources: [.observation, .questionnaireResponse, .flag, .careTeam]),
        SearchParameter(name: "owner", type: "reference", field: .patient, documentation: "Patient/<id> or <id>", resources: [.task]),
        SearchParameter(
            name: "code", type: "token", field: .code, documentation: "system|code, code (any system), |code (no system) or system| (any of its codes); comma for OR, repeat for AND",
            resources: [.observation]),
        SearchParameter(
            name: "category", type: "token", field: .category,
            documentation: "As code, over Observation.category (e.g. vital-signs, laboratory)", resources: [.observation]),
        SearchParameter(
            name: "date", type: "date", field: .clinicalDate, documentation: "Clinically relevant time, with comparison prefixes",
            resources: [.observation, .flag]),
        SearchParameter(
            name: "authored", type: "date", field: .clinicalDate, documentation: "Clinically relevant time, with comparison prefixes",
            resources: [.questionnaireResponse]),
        SearchParameter(
            name: "status", type: "token", field: .status, documentation: "Exact code; comma for OR",
            resources: [.observation, .questionnaire, .valueSet, .questionnaireResponse, .task, .flag, .careTeam, .subscription]),
        SearchParameter(
            name: "url", type: "uri", field: .canonicalURL, documentation: "Canonical url, with or without |version",
            resources: [.questionnaire, .valueSet]),
    ]

    /// The parameter `name` of `type`, if the server takes it there.
    static func named(_ name: String, for type: SupportedResource) -> SearchParameter? {
        table.first { $0.name == name && ($0.resources?.contains(type) ?? true) }
    }

    /// Every parameter `type` takes, common ones first, in table order.
    static func all(for type: SupportedResource) -> [SearchParameter] {
        table.filter { $0.resources?.contains(type) ?? true }
    }
}

extension SupportedResource {
    /// Search parameters accepted beyond the common `_id`, `_lastUpdated`, `_count`, `_sort`, `identifier`.
    var searchParameters: [String] {
        SearchParameter.table.filter { $0.resources?.contains(self) == true }.map(\.name)
    }
}
