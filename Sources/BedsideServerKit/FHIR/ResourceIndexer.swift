import BedsideCore

/// The resource types this server keeps, and what it can do with each.
public enum SupportedResource: String, CaseIterable, Sendable {
    case patient = "Patient"
    case practitioner = "Practitioner"
    case observation = "Observation"
    case questionnaire = "Questionnaire"
    case questionnaireResponse = "QuestionnaireResponse"
    case task = "Task"
    case flag = "Flag"
    /// The answer lists questionnaires point at (`answerValueSet`), loaded with `bedside-server assign --value-set`.
    case valueSet = "ValueSet"
    /// Who looks after a patient: its active CareTeams' Practitioners are the clinicians who see the
    /// patient (`CareTeams`), whether an EMR wrote it or `team add` did.
    case careTeam = "CareTeam"
    /// A list of patients an EMR names for Bulk Data (`Group/[id]/$export`); seen by backend clients only.
    case group = "Group"
    /// A backend client's standing request for notifications (rest-hook) of matching changes.
    case subscription = "Subscription"

    /// Whether resources of this type belong to one patient (their compartment).
    var isPatientData: Bool {
        switch self {
        case .patient, .observation, .questionnaireResponse, .task, .flag, .careTeam: true
        case .practitioner, .questionnaire, .valueSet, .group, .subscription: false
        }
    }

    /// Types only backend clients may see at all: a person's token is answered 404, as if it did not exist.
    /// A Group's members are the EMR's business; a Subscription is one client's own.
    var isClientOnly: Bool { self == .group || self == .subscription }

    /// `_sort` keys accepted, each also with a leading `-`.
    var sortKeys: [String] {
        switch self {
        case .observation: ["date", "_lastUpdated"]
        case .questionnaireResponse: ["authored", "_lastUpdated"]
        case .flag: ["priority", "date", "_lastUpdated"]
        case .task: ["_lastUpdated"]
        default: ["_lastUpdated"]
        }
    }
}

/// Flag priority as the server calls it: the alert priority of BedsideCore, which reads and writes the
/// flag-priority extension; here it also sorts.
public typealias FlagPriority = AlertPriority

extension AlertPriority {
    /// Higher is more urgent; sorts `_sort=-priority`.
    public var rank: Int {
        switch self {
        case .red: 3
        case .orange: 2
        case .gray: 1
        }
    }
}

/// Works out the columns a resource is searched and access-checked by.
enum ResourceIndexer {
    struct Index {
        var patientID: String?
        var status: String?
        var date: Int64?
        var priority: Int?
        var codes: [ResourceCode]
        var identifiers: [ResourceCode]
        /// `category` codings (Observation), for `category=` search.
        var categories: [ResourceCode] = []
    }

    static func index(_ resource: JSONValue, type: SupportedResource, id: String) -> Index {
        let status = resource["status"]?.stringValue
        // A list on most resources; one Identifier on a QuestionnaireResponse.
        let given = resource["identifier"]
        let identifiers = (given?.arrayValue ?? (given?.objectValue != nil ? [given ?? .null] : [])).compactMap { item -> ResourceCode? in
            guard let value = item["value"]?.stringValue else { return nil }
            return ResourceCode(system: item["system"]?.stringValue ?? "", code: value)
        }
        func codings(_ concept: JSONValue?) -> [ResourceCode] {
            (concept?["coding"]?.arrayValue ?? []).compactMap { coding in
                coding["code"]?.stringValue.map { ResourceCode(system: coding["system"]?.stringValue ?? "", code: $0) }
            }
        }
        func date(_ value: JSONValue?) -> Int64? { value?.stringValue.flatMap(FHIRDateTime.init)?.lowerBound }
        switch type {
        case .patient:
            return Index(patientID: id, status: nil, date: nil, priority: nil, codes: [], identifiers: identifiers)
        case .practitioner, .subscription:
            return Index(patientID: nil, status: status, date: nil, priority: nil, codes: [], identifiers: identifiers)
        case .group:
            return Index(patientID: nil, status: nil, date: nil, priority: nil, codes: codings(resource["code"]), identifiers: identifiers)
        case .questionnaire, .valueSet:
            // Canonical resources are found by their url (`?url=`, and `assign` updating a known form).
            let canonical = resource["url"]?.stringValue.map { [ResourceCode(system: ServerAdministration.canonicalSystem, code: $0)] } ?? []
            return Index(patientID: nil, status: status, date: nil, priority: nil, codes: [], identifiers: identifiers + canonical)
        case .observation:
            return Index(
                patientID: patientID(resource["subject"]), status: status, date: ObservationReader.effective(of: resource)?.lowerBound,
                priority: nil, codes: codings(resource["code"]), identifiers: identifiers,
                categories: (resource["category"]?.arrayValue ?? []).flatMap(codings))
        case .questionnaireResponse:
            return Index(
                patientID: patientID(resource["subject"]), status: status, date: date(resource["authored"]), priority: nil,
                codes: [], identifiers: identifiers)
        case .task:
            let due = date(resource["restriction"]?["period"]?["end"]) ?? date(resource["executionPeriod"]?["end"])
            return Index(
                patientID: patientID(resource["for"]) ?? patientID(resource["owner"]), status: status, date: due,
                priority: nil, codes: codings(resource["code"]), identifiers: identifiers)
        case .careTeam:
            return Index(
                patientID: patientID(resource["subject"]), status: status, date: date(resource["period"]?["start"]), priority: nil,
                codes: [], identifiers: identifiers)
        case .flag:
            return Index(
                patientID: patientID(resource["subject"]), status: status, date: date(resource["period"]?["start"]),
                priority: FlagPriority(flag: resource)?.rank ?? 0, codes: codings(resource["code"]),
                identifiers: identifiers)
        }
    }

    static func patientID(_ reference: JSONValue?) -> String? {
        guard let text = reference?["reference"]?.stringValue, let parsed = FHIRSyntax.parseReference(text),
            parsed.type == "Patient"
        else { return nil }
        return parsed.id
    }
}
