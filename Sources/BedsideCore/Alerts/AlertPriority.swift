/// How urgent an alert is. FHIR R4's Flag has no priority element: Flags carry it in the standard
/// flag-priority extension, which the server writes and indexes and the kiosk reads, both through this.
public enum AlertPriority: String, Sendable, CaseIterable, Comparable {
    case gray, orange, red

    public static func < (lhs: AlertPriority, rhs: AlertPriority) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }

    public static let extensionURL = "http://hl7.org/fhir/StructureDefinition/flag-priority"
    public static let codeSystem = "http://hl7.org/fhir/flag-priority-code"

    /// The code of http://hl7.org/fhir/flag-priority-code that stands for it.
    public var code: String {
        switch self {
        case .red: "PH"
        case .orange: "PM"
        case .gray: "PL"
        }
    }

    public var display: String {
        switch self {
        case .red: "High priority"
        case .orange: "Medium priority"
        case .gray: "Low priority"
        }
    }

    public init?(code: String) {
        guard let match = AlertPriority.allCases.first(where: { $0.code == code }) else { return nil }
        self = match
    }

    /// The priority written in a Flag's extension, if any.
    public init?(flag: JSONValue) {
        for item in flag["extension"]?.arrayValue ?? [] where item["url"]?.stringValue == Self.extensionURL {
            for coding in item["valueCodeableConcept"]?["coding"]?.arrayValue ?? [] {
                if let code = coding["code"]?.stringValue, let priority = AlertPriority(code: code) {
                    self = priority
                    return
                }
            }
        }
        return nil
    }

    /// The flag-priority extension that says it.
    public var extensionJSON: JSONValue {
        [
            "url": .string(Self.extensionURL),
            "valueCodeableConcept": [
                "coding": [["system": .string(Self.codeSystem), "code": .string(code), "display": .string(display)]],
                "text": .string(rawValue),
            ],
        ]
    }
}
