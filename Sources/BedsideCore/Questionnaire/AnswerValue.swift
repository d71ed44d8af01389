/// One answer to a questionnaire item: FHIR's `value[x]` of an answer, answerOption or initial value.
public enum AnswerValue: Sendable, Equatable {
    case boolean(Bool)
    /// Kept as written, so "72.50" stays "72.50".
    case decimal(String)
    case integer(Int)
    case date(String)
    case dateTime(String)
    case time(String)
    case string(String)
    case uri(String)
    case coding(Coding)
    case quantity(Quantity)
    /// A reference, as `reference` text (e.g. `Practitioner/1`).
    case reference(String)
    /// An attachment's JSON, kept whole (terminals do not make attachments).
    case attachment(JSONValue)

    public struct Coding: Sendable, Equatable, Hashable {
        public var system: String?
        public var code: String?
        public var display: String?

        public init(system: String? = nil, code: String? = nil, display: String? = nil) {
            self.system = system
            self.code = code
            self.display = display
        }

        /// Same concept: same code (and same system when both have one).
        public func matches(_ other: Coding) -> Bool {
            guard let code, code == other.code else { return code == nil && other.code == nil && display == other.display }
            if let system, let otherSystem = other.system { return system == otherSystem }
            return true
        }

        var json: JSONValue {
            var object = JSONObject()
            if let system { object["system"] = .string(system) }
            if let code { object["code"] = .string(code) }
            if let display { object["display"] = .string(display) }
            return .object(object)
        }

        init?(json: JSONValue?) {
            guard let json, json.objectValue != nil else { return nil }
            self.init(system: json["system"]?.stringValue, code: json["code"]?.stringValue, display: json["display"]?.stringValue)
        }
    }

    public struct Quantity: Sendable, Equatable, Hashable {
        /// As written.
        public var value: String
        public var unit: String?
        public var system: String?
        public var code: String?

        public init(value: String, unit: String? = nil, system: String? = nil, code: String? = nil) {
            self.value = value
            self.unit = unit
            self.system = system
            self.code = code
        }
    }

    /// The `value[x]` suffixes, in the order FHIR lists them for answers.
    static let suffixes = [
        "Boolean", "Decimal", "Integer", "Date", "DateTime", "Time", "String", "Uri", "Coding", "Quantity", "Reference", "Attachment",
    ]

    /// Reads `<prefix>Integer`, `<prefix>Coding`, … from an object (`value`, `answer`, `initial` …).
    public init?(in object: JSONValue, prefix: String = "value") {
        for suffix in Self.suffixes {
            guard let value = object[prefix + suffix] else { continue }
            switch suffix {
            case "Boolean": if let flag = value.boolValue { self = .boolean(flag); return }
            case "Decimal": if case .number(let text) = value { self = .decimal(text); return }
            case "Integer": if let number = value.intValue { self = .integer(number); return }
            case "Date": if let text = value.stringValue { self = .date(text); return }
            case "DateTime": if let text = value.stringValue { self = .dateTime(text); return }
            case "Time": if let text = value.stringValue { self = .time(text); return }
            case "String": if let text = value.stringValue { self = .string(text); return }
            case "Uri": if let text = value.stringValue { self = .uri(text); return }
            case "Coding": if let coding = Coding(json: value) { self = .coding(coding); return }
            case "Quantity":
                if case .number(let number)? = value["value"] {
                    self = .quantity(Quantity(
                        value: number, unit: value["unit"]?.stringValue, system: value["system"]?.stringValue, code: value["code"]?.stringValue))
                    return
                }
            case "Reference": if let text = value["reference"]?.stringValue { self = .reference(text); return }
            case "Attachment": self = .attachment(value); return
            default: break
            }
        }
        return nil
    }

    /// The JSON member this value becomes, e.g. `("valueInteger", 3)`.
    public func member(prefix: String = "value") -> (String, JSONValue) {
        switch self {
        case .boolean(let flag): (prefix + "Boolean", .bool(flag))
        case .decimal(let text): (prefix + "Decimal", .number(text))
        case .integer(let number): (prefix + "Integer", .number(number))
        case .date(let text): (prefix + "Date", .string(text))
        case .dateTime(let text): (prefix + "DateTime", .string(text))
        case .time(let text): (prefix + "Time", .string(text))
        case .string(let text): (prefix + "String", .string(text))
        case .uri(let text): (prefix + "Uri", .string(text))
        case .coding(let coding): (prefix + "Coding", coding.json)
        case .quantity(let quantity):
            (prefix + "Quantity", {
                var object: JSONObject = ["value": .number(quantity.value)]
                if let unit = quantity.unit { object["unit"] = .string(unit) }
                if let system = quantity.system { object["system"] = .string(system) }
                if let code = quantity.code { object["code"] = .string(code) }
                return .object(object)
            }())
        case .reference(let text): (prefix + "Reference", ["reference": .string(text)])
        case .attachment(let json): (prefix + "Attachment", json)
        }
    }

    /// The number, for comparisons and scores.
    public var number: Double? {
        switch self {
        case .decimal(let text): Double(text)
        case .integer(let number): Double(number)
        case .quantity(let quantity): Double(quantity.value)
        default: nil
        }
    }

    /// How the value reads to a person (a coding's display, else its code).
    public var text: String {
        switch self {
        case .boolean(let flag): flag ? "yes" : "no"
        case .decimal(let text), .date(let text), .dateTime(let text), .time(let text), .string(let text), .uri(let text),
            .reference(let text):
            text
        case .integer(let number): String(number)
        case .coding(let coding): coding.display ?? coding.code ?? ""
        case .quantity(let quantity): quantity.value + (quantity.unit.map { " " + $0 } ?? "")
        case .attachment(let json): json["title"]?.stringValue ?? "attachment"
        }
    }
}
