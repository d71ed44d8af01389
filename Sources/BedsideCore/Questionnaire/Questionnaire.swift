/// A FHIR R4 Questionnaire, read for rendering and answering in a terminal.
///
/// Reading never loses anything: each item keeps its JSON (`source`), and `source` here is the whole
/// resource as written. What Bedside cannot do with a form is reported (`problems`), not crashed on.
public struct Questionnaire: Sendable, Equatable {
    public var id: String?
    public var url: String?
    public var version: String?
    public var title: String?
    public var name: String?
    public var status: String?
    /// The language the form is written in (`Questionnaire.language`).
    public var language: String?
    public var items: [QuestionnaireItem]
    /// Root-level `variable` extensions.
    public var variables: [ItemExtensions.Variable]
    /// The ValueSets the form contains (`#id` -> its codes as answer options, with their scores), from
    /// their expansion or their compose.
    public var containedValueSets: [String: [QuestionnaireItem.AnswerOption]]
    public var source: JSONValue

    public init(json: JSONValue) throws(QuestionnaireError) {
        guard json["resourceType"]?.stringValue == "Questionnaire" else {
            throw .notAQuestionnaire(json["resourceType"]?.stringValue ?? json.typeName)
        }
        source = json
        id = json["id"]?.stringValue
        url = json["url"]?.stringValue
        version = json["version"]?.stringValue
        title = json["title"]?.stringValue
        name = json["name"]?.stringValue
        status = json["status"]?.stringValue
        language = json["language"]?.stringValue
        var seen: Set<String> = []
        items = try (json["item"]?.arrayValue ?? []).enumerated().map { index, item throws(QuestionnaireError) in
            try QuestionnaireReader.item(item, path: "Questionnaire.item[\(index)]", seen: &seen)
        }
        variables = QuestionnaireReader.extensions(of: json).variables
        var valueSets: [String: [QuestionnaireItem.AnswerOption]] = [:]
        for resource in json["contained"]?.arrayValue ?? [] where resource["resourceType"]?.stringValue == "ValueSet" {
            guard let id = resource["id"]?.stringValue else { continue }
            valueSets["#" + id] = QuestionnaireReader.codes(ofValueSet: resource)
        }
        containedValueSets = valueSets
    }

    /// The title to show.
    public var displayTitle: String { title ?? name ?? id ?? "Questionnaire" }

    /// Every item, depth first.
    public var allItems: [QuestionnaireItem] { items.flatMap { [$0] + $0.descendants } }

    public func item(_ linkId: String) -> QuestionnaireItem? { allItems.first { $0.linkId == linkId } }

    /// The choices of an item: its answerOptions, else its answerValueSet's codes (contained, or from
    /// `valueSets`, the expansions the app cached). Nil when a value set cannot be resolved.
    public func options(for item: QuestionnaireItem, valueSets: [String: [AnswerValue.Coding]] = [:]) -> [QuestionnaireItem.AnswerOption]? {
        if !item.answerOptions.isEmpty { return item.answerOptions }
        guard let reference = item.answerValueSet else { return [] }
        if let contained = containedValueSets[reference] { return contained }
        guard let codes = valueSets[reference] else { return nil }
        return codes.map { QuestionnaireItem.AnswerOption(value: .coding($0), initialSelected: false, score: nil) }
    }

    /// The form's score by its answer options' `ordinalValue`s (PHQ-9, GAD-7 …): the sum over the
    /// answered items whose options carry scores; nil when no answered item is scored.
    public func score(of answers: [ResponseItem]) -> Double? {
        var total: Double?
        func walk(_ items: [ResponseItem]) {
            for item in items {
                if let definition = self.item(item.linkId), let options = options(for: definition) {
                    for answer in item.answers {
                        if let option = options.first(where: { EnableWhenEvaluator.equal(answer.value, $0.value) }), let score = option.score {
                            total = (total ?? 0) + score
                        }
                    }
                }
                walk(item.items)
                walk(item.answers.flatMap(\.items))
            }
        }
        walk(answers)
        return total
    }

    /// What the app cannot render faithfully, item by item.
    public func problems(valueSets: [String: [AnswerValue.Coding]] = [:]) -> [QuestionnaireProblem] {
        var problems: [QuestionnaireProblem] = []
        let linkIds = Set(allItems.map(\.linkId))
        for item in allItems {
            switch item.type {
            case .attachment:
                problems.append(.init(linkId: item.linkId, feature: "attachment item", blocksAnswering: item.required,
                    message: "Item \(item.linkId) asks for an attachment, which cannot be given in a terminal."))
            case .unknown(let code):
                problems.append(.init(linkId: item.linkId, feature: "item type '\(code)'", blocksAnswering: item.required,
                    message: "Item \(item.linkId) has the type '\(code)', which FHIR R4 does not define."))
            default: break
            }
            if item.answerValueSet != nil, options(for: item, valueSets: valueSets) == nil {
                problems.append(.init(linkId: item.linkId, feature: "value set \(item.answerValueSet ?? "")", blocksAnswering: false,
                    message: "The answers of item \(item.linkId) come from \(item.answerValueSet ?? ""), which could not be resolved; it is answered as free text."))
            }
            for condition in item.enableWhen where !linkIds.contains(condition.question) {
                problems.append(.init(linkId: item.linkId, feature: "enableWhen on an unknown item", blocksAnswering: true,
                    message: "Item \(item.linkId) depends on item \(condition.question), which the form does not have."))
            }
        }
        return problems
    }
}

/// Something in a form that Bedside cannot do as the author intended.
public struct QuestionnaireProblem: Sendable, Equatable, CustomStringConvertible {
    public var linkId: String
    /// The feature, named for the form's author.
    public var feature: String
    /// True when the form cannot be answered as intended (a required attachment, a broken enableWhen).
    public var blocksAnswering: Bool
    public var message: String

    public var description: String { message }
}

/// Why a document is not a usable Questionnaire.
public enum QuestionnaireError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAQuestionnaire(String)
    case missingLinkId(path: String)
    case duplicateLinkId(String)

    public var description: String {
        switch self {
        case .notAQuestionnaire(let kind): "This is not a FHIR Questionnaire (it is a \(kind))."
        case .missingLinkId(let path): "\(path) has no linkId."
        case .duplicateLinkId(let linkId): "The linkId '\(linkId)' is used twice; each item needs its own."
        }
    }
}
