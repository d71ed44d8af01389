/// Answers given as plain JSON (`bedside questionnaire fill --answers`): an object mapping a linkId to
/// a value (a code for choice items, a number, a string, an ISO date, a boolean) or a list of values
/// for a repeating item. A repeating group takes a list of objects, one per repetition, each mapping
/// the linkIds inside it the same way. Items not given take their `initial` values.
public enum AnswerSheet {
    /// Builds the response items from `answers`, shaped as the questionnaire is.
    public static func responseItems(_ answers: JSONValue, for questionnaire: Questionnaire) throws(AnswerError) -> [ResponseItem] {
        guard let object = answers.objectValue else { throw AnswerError(linkId: "", message: "The answers must be a JSON object mapping linkId to value.") }
        let known = Set(questionnaire.allItems.map(\.linkId))
        for key in object.keys where !known.contains(key) {
            throw AnswerError(linkId: key, message: "The form has no item '\(key)'.")
        }
        return try items(questionnaire.items, answers: answers, questionnaire: questionnaire)
    }

    private static func items(_ definitions: [QuestionnaireItem], answers: JSONValue, questionnaire: Questionnaire) throws(AnswerError)
        -> [ResponseItem]
    {
        var result: [ResponseItem] = []
        for definition in definitions {
            let given = answers[definition.linkId]
            if definition.type == .group {
                if definition.repeats, let repetitions = given?.arrayValue {
                    for repetition in repetitions {
                        result.append(ResponseItem(
                            linkId: definition.linkId, items: try items(definition.items, answers: repetition, questionnaire: questionnaire)))
                    }
                } else {
                    result.append(ResponseItem(
                        linkId: definition.linkId, items: try items(definition.items, answers: given ?? answers, questionnaire: questionnaire)))
                }
                continue
            }
            var values: [AnswerValue] = []
            if let given, given != .null {
                let list = given.arrayValue ?? [given]
                if list.count > 1 && !definition.repeats {
                    throw AnswerError(linkId: definition.linkId, message: "Item \(definition.linkId) takes one answer, not \(list.count).")
                }
                for value in list { values.append(try AnswerParser(questionnaire: questionnaire).value(value, for: definition)) }
            } else {
                values = definition.initial
                if values.isEmpty {
                    values = (questionnaire.options(for: definition) ?? []).filter(\.initialSelected).map(\.value)
                }
            }
            // Items nested under a question go under its (first) answer, as FHIR puts them.
            let nested = try items(definition.items, answers: answers, questionnaire: questionnaire)
            var responseAnswers = values.map { ResponseAnswer(value: $0) }
            if !nested.isEmpty, !responseAnswers.isEmpty { responseAnswers[0].items = nested }
            result.append(ResponseItem(linkId: definition.linkId, answers: responseAnswers, items: definition.type.isQuestion ? [] : nested))
        }
        return result
    }
}

/// Turns a typed or given value into the answer an item takes, or says why it cannot.
public struct AnswerParser: Sendable {
    public let questionnaire: Questionnaire
    public var valueSets: [String: [AnswerValue.Coding]]

    public init(questionnaire: Questionnaire, valueSets: [String: [AnswerValue.Coding]] = [:]) {
        self.questionnaire = questionnaire
        self.valueSets = valueSets
    }

    public func value(_ json: JSONValue, for item: QuestionnaireItem) throws(AnswerError) -> AnswerValue {
        func fail(_ message: String) -> AnswerError { AnswerError(linkId: item.linkId, message: "Item \(item.linkId): \(message)") }
        switch item.type {
        case .boolean:
            guard let flag = json.boolValue else { throw fail("answer true or false.") }
            return .boolean(flag)
        case .decimal:
            guard case .number(let text) = json else { throw fail("answer a number.") }
            return .decimal(text)
        case .integer:
            guard let number = json.intValue else { throw fail("answer a whole number.") }
            return .integer(number)
        case .date:
            guard let text = json.stringValue, text.count <= 10, FHIRDateTime(text) != nil else { throw fail("answer a date like 2026-11-23.") }
            return .date(text)
        case .dateTime:
            guard let text = json.stringValue, FHIRDateTime(text) != nil else { throw fail("answer a date and time like 2026-11-23T09:30:00+01:00.") }
            return .dateTime(text)
        case .time:
            guard let text = json.stringValue, Self.isTime(text) else { throw fail("answer a time like 09:30:00.") }
            return .time(text)
        case .string, .text:
            guard let text = json.stringValue else { throw fail("answer text.") }
            return .string(text)
        case .url:
            guard let text = json.stringValue else { throw fail("answer a URL.") }
            return .uri(text)
        case .quantity:
            if case .number(let number) = json {
                let unit = item.extensions.unitOptions.first ?? item.extensions.unit
                return .quantity(.init(value: number, unit: unit?.display ?? unit?.code, system: unit?.system, code: unit?.code))
            }
            guard case .number(let number)? = json["value"] else { throw fail("answer a number, or {\"value\": n, \"unit\": \"…\"}.") }
            let unitText = json["unit"]?.stringValue ?? json["code"]?.stringValue
            let unit = item.extensions.unitOptions.first { $0.code == unitText || $0.display == unitText }
            if !item.extensions.unitOptions.isEmpty, unit == nil {
                throw fail("the unit must be one of \(item.extensions.unitOptions.compactMap { $0.code ?? $0.display }.joined(separator: ", ")).")
            }
            return .quantity(.init(value: number, unit: unit?.display ?? unitText, system: unit?.system, code: unit?.code ?? unitText))
        case .choice, .openChoice:
            let options = questionnaire.options(for: item, valueSets: valueSets)
            if let options, !options.isEmpty, let match = Self.match(json, in: options) { return match.value }
            // A code given with its system (for a value set that is not at hand).
            if let code = json["code"]?.stringValue {
                let coding = AnswerValue.Coding(system: json["system"]?.stringValue, code: code, display: json["display"]?.stringValue)
                if let options, !options.isEmpty {
                    if let match = options.first(where: { if case .coding(let known) = $0.value { known.matches(coding) } else { false } }) {
                        return match.value
                    }
                } else {
                    return .coding(coding)
                }
            }
            // Free text: an open-choice always allows it; a choice whose value set cannot be resolved falls back to it.
            if item.type == .openChoice || options == nil, let text = json.stringValue { return .string(text) }
            let choices = (options ?? []).map { Self.label($0.value) }.joined(separator: ", ")
            throw fail("\(json.serializedString()) is not one of the choices (\(choices)).")
        case .reference:
            guard let text = json.stringValue else { throw fail("answer a reference like Practitioner/1.") }
            return .reference(text)
        case .attachment:
            throw fail("attachments cannot be given here.")
        case .group, .display, .question, .unknown:
            throw fail("this item takes no answer.")
        }
    }

    /// The option a given value names: by code, by display, or by the option's own value.
    static func match(_ json: JSONValue, in options: [QuestionnaireItem.AnswerOption]) -> QuestionnaireItem.AnswerOption? {
        options.first { option in
            switch option.value {
            case .coding(let coding):
                json.stringValue.map { $0 == coding.code || $0 == coding.display }
                    ?? json["code"]?.stringValue.map { AnswerValue.Coding(system: json["system"]?.stringValue, code: $0).matches(coding) } ?? false
            case .string(let text): json.stringValue == text
            case .integer(let number): json.intValue == number || json.stringValue == String(number)
            case .date(let text), .time(let text): json.stringValue == text
            default: false
            }
        }
    }

    static func label(_ value: AnswerValue) -> String {
        if case .coding(let coding) = value { return coding.code ?? coding.display ?? "?" }
        return value.text
    }

    static func isTime(_ text: String) -> Bool {
        let parts = text.split(separator: ":")
        guard parts.count == 3 || parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]) else { return false }
        let second = parts.count == 3 ? Double(parts[2]) : 0
        return (0...23).contains(hour) && (0...59).contains(minute) && second.map { $0 >= 0 && $0 < 60 } == true
    }
}

/// An answer that does not fit its item, with the message the person needs.
public struct AnswerError: Error, Sendable, Equatable, CustomStringConvertible {
    public var linkId: String
    public var message: String
    public var description: String { message }

    public init(linkId: String, message: String) {
        self.linkId = linkId
        self.message = message
    }
}
