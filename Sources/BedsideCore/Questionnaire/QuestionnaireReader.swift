/// Reads Questionnaire JSON into `QuestionnaireItem`s: the core elements and the extensions that
/// matter in a terminal. Extensions it does not know are listed as ignored, never fatal.
enum QuestionnaireReader {
    enum URL {
        static let hidden = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden"
        static let itemControl = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
        static let minValue = "http://hl7.org/fhir/StructureDefinition/minValue"
        static let maxValue = "http://hl7.org/fhir/StructureDefinition/maxValue"
        static let maxDecimalPlaces = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
        static let regex = "http://hl7.org/fhir/StructureDefinition/regex"
        static let entryFormat = "http://hl7.org/fhir/StructureDefinition/entryFormat"
        static let validationText = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-validationtext"
        static let unit = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
        static let unitOption = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption"
        static let calculatedExpression = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
        static let enableWhenExpression = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
        static let variable = "http://hl7.org/fhir/StructureDefinition/variable"
        static let translation = "http://hl7.org/fhir/StructureDefinition/translation"
    }

    static func item(_ json: JSONValue, path: String, seen: inout Set<String>) throws(QuestionnaireError) -> QuestionnaireItem {
        guard let linkId = json["linkId"]?.stringValue, !linkId.isEmpty else { throw .missingLinkId(path: path) }
        guard seen.insert(linkId).inserted else { throw .duplicateLinkId(linkId) }
        var children: [QuestionnaireItem] = []
        for (index, child) in (json["item"]?.arrayValue ?? []).enumerated() {
            children.append(try item(child, path: "\(path).item[\(index)]", seen: &seen))
        }
        let options = (json["answerOption"]?.arrayValue ?? []).compactMap { option -> QuestionnaireItem.AnswerOption? in
            guard let value = AnswerValue(in: option) else { return nil }
            return QuestionnaireItem.AnswerOption(
                value: value, initialSelected: option["initialSelected"]?.boolValue ?? false, score: score(of: option))
        }
        var initial = (json["initial"]?.arrayValue ?? []).compactMap { AnswerValue(in: $0) }
        // R4 also allowed `initial[x]` directly on the item in earlier drafts; accept it.
        if initial.isEmpty, let direct = AnswerValue(in: json, prefix: "initial") { initial = [direct] }
        let conditions = (json["enableWhen"]?.arrayValue ?? []).compactMap { condition -> QuestionnaireItem.EnableCondition? in
            guard let question = condition["question"]?.stringValue,
                let op = condition["operator"]?.stringValue.flatMap(QuestionnaireItem.EnableCondition.Operator.init(rawValue:))
            else { return nil }
            let answer = AnswerValue(in: condition, prefix: "answer")
            var exists: Bool?
            if op == .exists, case .boolean(let flag)? = answer { exists = flag }
            return QuestionnaireItem.EnableCondition(question: question, operator: op, answer: answer, exists: exists)
        }
        return QuestionnaireItem(
            linkId: linkId, text: json["text"]?.stringValue, prefix: json["prefix"]?.stringValue,
            type: QuestionnaireItem.ItemType(json["type"]?.stringValue ?? "display"), required: json["required"]?.boolValue ?? false,
            repeats: json["repeats"]?.boolValue ?? false, readOnly: json["readOnly"]?.boolValue ?? false,
            maxLength: json["maxLength"]?.intValue, answerOptions: options, answerValueSet: json["answerValueSet"]?.stringValue,
            initial: initial, enableWhen: conditions, enableWhenAny: json["enableBehavior"]?.stringValue == "any", items: children,
            translations: translations(of: json["_text"]), extensions: extensions(of: json), source: json)
    }

    /// The score of an answer option (or a ValueSet concept): on the option, else on its Coding.
    static func score(of option: JSONValue) -> Double? {
        [option, option["valueCoding"] ?? .null].lazy.compactMap { ScoreExtension.number(on: $0)?.value.doubleValue }.first
    }

    /// `_text.extension[translation]`: language -> text.
    static func translations(of element: JSONValue?) -> [String: String] {
        var result: [String: String] = [:]
        for ext in element?["extension"]?.arrayValue ?? [] where ext["url"]?.stringValue == URL.translation {
            let parts = ext["extension"]?.arrayValue ?? []
            let language = parts.first { $0["url"]?.stringValue == "lang" }?["valueCode"]?.stringValue
            let content = parts.first { $0["url"]?.stringValue == "content" }?["valueString"]?.stringValue
            if let language, let content { result[language] = content }
        }
        return result
    }

    static func extensions(of json: JSONValue) -> ItemExtensions {
        var result = ItemExtensions()
        for ext in (json["extension"]?.arrayValue ?? []) + (json["modifierExtension"]?.arrayValue ?? []) {
            guard let url = ext["url"]?.stringValue else { continue }
            switch url {
            case URL.hidden: result.hidden = ext["valueBoolean"]?.boolValue ?? false
            case URL.itemControl:
                result.itemControl = (ext["valueCodeableConcept"]?["coding"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }.first
            case URL.minValue: result.minValue = AnswerValue(in: ext)
            case URL.maxValue: result.maxValue = AnswerValue(in: ext)
            case URL.maxDecimalPlaces: result.maxDecimalPlaces = ext["valueInteger"]?.intValue
            case URL.regex: result.regex = ext["valueString"]?.stringValue
            case URL.entryFormat: result.entryFormat = ext["valueString"]?.stringValue
            case URL.validationText: result.validationText = ext["valueString"]?.stringValue
            case URL.unit: result.unit = AnswerValue.Coding(json: ext["valueCoding"])
            case URL.unitOption: if let coding = AnswerValue.Coding(json: ext["valueCoding"]) { result.unitOptions.append(coding) }
            case URL.calculatedExpression: result.calculatedExpression = ext["valueExpression"]?["expression"]?.stringValue
            case URL.enableWhenExpression: result.enableWhenExpression = ext["valueExpression"]?["expression"]?.stringValue
            case URL.variable:
                if let name = ext["valueExpression"]?["name"]?.stringValue, let expression = ext["valueExpression"]?["expression"]?.stringValue {
                    result.variables.append(ItemExtensions.Variable(name: name, expression: expression))
                }
            default: result.ignored.append(url)
            }
        }
        return result
    }

    /// The codes of a ValueSet: its expansion if it has one, else the concepts its compose lists.
    static func codes(ofValueSet valueSet: JSONValue) -> [QuestionnaireItem.AnswerOption] {
        func option(_ coding: AnswerValue.Coding, _ entry: JSONValue) -> QuestionnaireItem.AnswerOption {
            QuestionnaireItem.AnswerOption(value: .coding(coding), initialSelected: false, score: score(of: entry))
        }
        func flatten(_ contains: [JSONValue]) -> [QuestionnaireItem.AnswerOption] {
            contains.flatMap { entry -> [QuestionnaireItem.AnswerOption] in
                var own: [QuestionnaireItem.AnswerOption] = []
                if entry["code"] != nil, entry["abstract"]?.boolValue != true {
                    own.append(option(AnswerValue.Coding(
                        system: entry["system"]?.stringValue, code: entry["code"]?.stringValue, display: entry["display"]?.stringValue), entry))
                }
                return own + flatten(entry["contains"]?.arrayValue ?? [])
            }
        }
        if let contains = valueSet["expansion"]?["contains"]?.arrayValue { return flatten(contains) }
        return (valueSet["compose"]?["include"]?.arrayValue ?? []).flatMap { include in
            (include["concept"]?.arrayValue ?? []).map { concept in
                option(AnswerValue.Coding(
                    system: include["system"]?.stringValue, code: concept["code"]?.stringValue, display: concept["display"]?.stringValue), concept)
            }
        }
    }
}
