/// Turning a result back into FHIR JSON, for the answer of a calculated item.
extension FHIRPathValue {
    /// A `QuestionnaireResponse.item.answer` holding this value, such as `{"valueDecimal": 22.9}`, or
    /// `nil` when the value cannot answer an item of that type.
    ///
    /// `itemType` is the Questionnaire item's `type` code. Numbers adapt to it: a whole Decimal can
    /// answer an `integer` item (a fractional one cannot: nothing is silently rounded), an Integer a
    /// `decimal` item, and either a `quantity` item (as a Quantity without a unit; the caller adds the
    /// item's unit). `string` and `text` items take any primitive as text. Without `itemType` each value
    /// takes its natural answer type.
    public func answerJSON(itemType: String? = nil) -> JSONObject? {
        guard let (key, value) = answerMember(itemType: itemType) else { return nil }
        return [key: value]
    }

    private func answerMember(itemType: String?) -> (String, JSONValue)? {
        switch (itemType, self) {
        case ("integer", _):
            return decimalValue?.intValue.map { ("valueInteger", .number($0)) }
        case ("decimal", _):
            return decimalValue.map { ("valueDecimal", .number($0.description)) }
        case ("quantity", _):
            if let number = decimalValue { return ("valueQuantity", ["value": .number(number.description)]) }
            if case .element(let element) = self, quantityValue != nil { return ("valueQuantity", element.json) }
            return quantityValue.map { ("valueQuantity", $0.json) }
        case ("string", _), ("text", _):
            return FHIRPathConversion.toString(self).flatMap { $0.stringValue }.map { ("valueString", .string($0)) }
        case ("url", .string(let text)):
            return ("valueUri", .string(text))
        case ("dateTime", .date(let date)):
            return ("valueDateTime", .string(date.description))
        case (nil, _), ("choice", _), ("open-choice", _), ("coding", _):
            return naturalAnswerMember
        default:
            guard let (key, value) = naturalAnswerMember, key == Self.answerKey(forItemType: itemType) else { return nil }
            return (key, value)
        }
    }

    /// The answer member each kind of value takes by itself.
    private var naturalAnswerMember: (String, JSONValue)? {
        switch self {
        case .boolean(let flag): ("valueBoolean", .bool(flag))
        case .integer(let integer): ("valueInteger", .number(integer))
        case .decimal(let decimal): ("valueDecimal", .number(decimal.description))
        case .string(let text): ("valueString", .string(text))
        case .date(let date): ("valueDate", .string(date.description))
        case .dateTime(let dateTime): ("valueDateTime", .string(dateTime.fhirText))
        case .time(let time): ("valueTime", .string(time.fhirText))
        case .quantity(let quantity): ("valueQuantity", quantity.json)
        case .element(let element):
            Self.answerTypes.contains(element.typeName ?? "") ? ("value" + (element.typeName ?? ""), element.json) : nil
        }
    }

    /// The complex types an answer can have in R4.
    private static let answerTypes: Set<String> = ["Coding", "Quantity", "Reference", "Attachment"]

    private static func answerKey(forItemType type: String?) -> String? {
        switch type {
        case "boolean": "valueBoolean"
        case "date": "valueDate"
        case "dateTime": "valueDateTime"
        case "time": "valueTime"
        case "url": "valueUri"
        case "reference": "valueReference"
        case "attachment": "valueAttachment"
        default: nil
        }
    }
}
