/// A complex FHIR element met while navigating JSON: a resource, a Coding, an item, an answer …
///
/// Besides the JSON it keeps what a type-less JSON tree cannot say by itself: the FHIR type when the
/// element was reached through a choice (`valueCoding` is a Coding) or is a resource, the `linkId` of
/// the questionnaire item it lies in (which `ordinal()` needs to find the answer option), and its
/// path from the root, which tells apart two equal-looking elements in different places.
public struct FHIRPathElement: Sendable, Equatable {
    /// The element as written (an object).
    public let json: JSONValue
    /// `Coding`, `Quantity`, `QuestionnaireResponse` …, when known.
    public let typeName: String?
    /// The `linkId` of the nearest item (Questionnaire or QuestionnaireResponse) this element is in or is.
    public let linkId: String?
    /// Where it was found, e.g. `%resource.item[0].answer[0].valueCoding`.
    public let path: String

    /// An element from JSON the caller holds. A resource gets its `resourceType` as type, an item its `linkId`.
    public init(json: JSONValue, typeName: String? = nil, path: String = "value") {
        self.init(json: json, typeName: typeName, linkId: nil, path: path)
    }

    init(json: JSONValue, typeName: String?, linkId: String?, path: String) {
        self.json = json
        self.typeName = typeName ?? json["resourceType"]?.stringValue
        self.linkId = json["linkId"]?.stringValue ?? linkId
        self.path = path
    }

    /// Equal when the JSON and the type are; where each was found does not matter.
    public static func == (lhs: FHIRPathElement, rhs: FHIRPathElement) -> Bool {
        lhs.json == rhs.json && lhs.typeName == rhs.typeName
    }

    /// Whether this is a resource (it has a `resourceType`).
    var isResource: Bool { json["resourceType"]?.stringValue != nil }

    // MARK: - Navigation

    /// The children called `name`: the member itself, or a choice member `name` + type (`value` finds
    /// `valueCoding`, `valueInteger` …, typed accordingly).
    func children(named name: String) -> [FHIRPathValue] {
        guard let object = json.objectValue else { return [] }
        if let member = object[name] {
            return FHIRPathValue.collection(
                from: member, typeName: FHIRPathChoiceType.typeName(ofMember: name), linkId: linkId, path: path + "." + name)
        }
        for (key, member) in object where key.count > name.count && key.hasPrefix(name) {
            if let type = FHIRPathChoiceType.typeName(forSuffix: key.dropFirst(name.count)) {
                return FHIRPathValue.collection(from: member, typeName: type, linkId: linkId, path: path + "." + key)
            }
        }
        return []
    }

    /// Every child, in order; `resourceType` and the `_name` primitive extensions are not children.
    func allChildren() -> [FHIRPathValue] {
        guard let object = json.objectValue else { return [] }
        var result: [FHIRPathValue] = []
        for (key, member) in object where key != "resourceType" && !key.hasPrefix("_") {
            result += FHIRPathValue.collection(
                from: member, typeName: FHIRPathChoiceType.typeName(ofMember: key), linkId: linkId, path: path + "." + key)
        }
        return result
    }
}

extension FHIRPathValue {
    /// JSON as a FHIRPath collection: arrays flatten, `null` disappears, primitives become System
    /// values (a string typed `date` by its choice becomes a Date), objects become elements.
    public static func collection(from json: JSONValue, typeName: String? = nil, path: String = "value") -> [FHIRPathValue] {
        collection(from: json, typeName: typeName, linkId: nil, path: path)
    }

    static func collection(from json: JSONValue, typeName: String?, linkId: String?, path: String) -> [FHIRPathValue] {
        switch json {
        case .null:
            return []
        case .array(let elements):
            var result: [FHIRPathValue] = []
            result.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                result += collection(from: element, typeName: typeName, linkId: linkId, path: "\(path)[\(index)]")
            }
            return result
        case .object:
            return [.element(FHIRPathElement(json: json, typeName: typeName, linkId: linkId, path: path))]
        case .bool(let flag):
            return [.boolean(flag)]
        case .number(let literal):
            return number(literal, typeName: typeName).map { [$0] } ?? []
        case .string(let text):
            return [string(text, typeName: typeName)]
        }
    }

    private static func number(_ literal: String, typeName: String?) -> FHIRPathValue? {
        let integerTypes: Set<String> = ["integer", "positiveInt", "unsignedInt", "integer64"]
        if typeName != "decimal", let integer = Int(literal) {
            return .integer(integer)
        }
        if let typeName, integerTypes.contains(typeName), let decimal = FHIRPathDecimal(literal), let integer = decimal.intValue {
            return .integer(integer)
        }
        return FHIRPathDecimal(literal).map(FHIRPathValue.decimal)
    }

    private static func string(_ text: String, typeName: String?) -> FHIRPathValue {
        switch typeName {
        case "date":
            if let date = FHIRPathDateTime(text), date.isDateOnly { return .date(date) }
        case "dateTime", "instant":
            if let dateTime = FHIRPathDateTime(text) { return .dateTime(dateTime) }
        case "time":
            if let time = FHIRPathTime(text) { return .time(time) }
        case "integer64":
            if let integer = Int(text) { return .integer(integer) }
        default:
            break
        }
        return .string(text)
    }
}
