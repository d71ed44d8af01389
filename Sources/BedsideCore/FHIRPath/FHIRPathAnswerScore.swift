/// Finds the score (`itemWeight`, `ordinalValue`, `iso21090-CO-value`) of an answer, the way SDC's
/// `ordinal()`/`weight()` do: on the answer's value itself; else on the matching `answerOption` of the
/// Questionnaire item with the answer's `linkId`; else on the concept in the ValueSet contained in the
/// Questionnaire that the item's `answerValueSet` (`#id`) names; else on the concept in a CodeSystem
/// contained in the Questionnaire.
struct FHIRPathAnswerScore {
    let questionnaire: JSONValue?

    /// The score of an answer, an answer's value (a Coding), or an answer option; `nil` if it has none.
    func score(of element: FHIRPathElement) -> [FHIRPathValue]? {
        if let own = Self.scoreExtension(on: element.json) { return own }
        let value = Self.answerValue(of: element)
        if let onValue = Self.scoreExtension(on: value.json) { return onValue }
        guard let linkId = element.linkId, let item = item(linkId: linkId) else { return nil }
        if let option = answerOption(in: item, matching: value) {
            return Self.scoreExtension(on: option) ?? Self.scoreExtension(on: option["valueCoding"] ?? .null)
        }
        guard value.key == "valueCoding" || value.key == nil, let code = value.json["code"]?.stringValue else { return nil }
        let system = value.json["system"]?.stringValue
        if let concept = containedValueSetConcept(for: item, code: code, system: system), let score = Self.scoreExtension(on: concept) {
            return score
        }
        return containedCodeSystemConcept(code: code, system: system).flatMap { Self.scoreExtension(on: $0) }
    }

    /// The `answerOption` of the element's Questionnaire item whose value is the element's value.
    func answerOption(for element: FHIRPathElement) -> JSONValue? {
        guard let linkId = element.linkId, let item = item(linkId: linkId) else { return nil }
        return answerOption(in: item, matching: Self.answerValue(of: element))
    }

    // MARK: - Finding things in the Questionnaire

    /// The Questionnaire item with `linkId`, at any depth.
    func item(linkId: String) -> JSONValue? {
        var pending = questionnaire?["item"]?.arrayValue ?? []
        while let item = pending.popLast() {
            if item["linkId"]?.stringValue == linkId { return item }
            pending += item["item"]?.arrayValue ?? []
        }
        return nil
    }

    private func answerOption(in item: JSONValue, matching value: (key: String?, json: JSONValue)) -> JSONValue? {
        (item["answerOption"]?.arrayValue ?? []).first { option in
            if value.key == nil || value.key == "valueCoding", let coding = option["valueCoding"] { return Self.sameCoding(coding, value.json) }
            guard let key = value.key, let optionValue = option[key] else { return false }
            return FHIRPathEquality.deepEqual(optionValue, value.json)
        }
    }

    private func containedValueSetConcept(for item: JSONValue, code: String, system: String?) -> JSONValue? {
        guard let reference = item["answerValueSet"]?.stringValue, reference.hasPrefix("#") else { return nil }
        let id = String(reference.dropFirst())
        guard let valueSet = contained(where: { $0["resourceType"]?.stringValue == "ValueSet" && $0["id"]?.stringValue == id }) else { return nil }
        for include in valueSet["compose"]?["include"]?.arrayValue ?? [] {
            let includeSystem = include["system"]?.stringValue
            guard system == nil || includeSystem == nil || system == includeSystem else { continue }
            if let concept = (include["concept"]?.arrayValue ?? []).first(where: { $0["code"]?.stringValue == code }) { return concept }
        }
        var pending = valueSet["expansion"]?["contains"]?.arrayValue ?? []
        while let entry = pending.popLast() {
            if Self.sameCoding(entry, ["code": .string(code), "system": system.map(JSONValue.string) ?? .null]) { return entry }
            pending += entry["contains"]?.arrayValue ?? []
        }
        return nil
    }

    private func containedCodeSystemConcept(code: String, system: String?) -> JSONValue? {
        guard let system,
            let codeSystem = contained(where: { $0["resourceType"]?.stringValue == "CodeSystem" && $0["url"]?.stringValue == system })
        else { return nil }
        var pending = codeSystem["concept"]?.arrayValue ?? []
        while let concept = pending.popLast() {
            if concept["code"]?.stringValue == code { return concept }
            pending += concept["concept"]?.arrayValue ?? []
        }
        return nil
    }

    private func contained(where predicate: (JSONValue) -> Bool) -> JSONValue? {
        (questionnaire?["contained"]?.arrayValue ?? []).first(where: predicate)
    }

    // MARK: - Helpers

    /// The value an element stands for: an answer's or option's `value[x]` with its member name, or the
    /// element itself (a Coding) with no name.
    private static func answerValue(of element: FHIRPathElement) -> (key: String?, json: JSONValue) {
        if let object = element.json.objectValue {
            for (key, value) in object where key.hasPrefix("value") && FHIRPathChoiceType.typeName(ofMember: key) != nil {
                return (key, value)
            }
        }
        return (nil, element.json)
    }

    /// Same code, and same system unless one of them has none.
    private static func sameCoding(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        guard let code = lhs["code"]?.stringValue, code == rhs["code"]?.stringValue else { return false }
        guard let leftSystem = lhs["system"]?.stringValue, let rightSystem = rhs["system"]?.stringValue else { return true }
        return leftSystem == rightSystem
    }

    /// The numeric value of the first score extension on `json`.
    private static func scoreExtension(on json: JSONValue) -> [FHIRPathValue]? {
        ScoreExtension.number(on: json).map { FHIRPathValue.collection(from: $0.value, typeName: $0.isInteger ? "integer" : "decimal") }
    }
}
